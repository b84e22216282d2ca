"""Export oversight: shipments with lab certificates, control samples, bias detection, re-assay
selection, valuation of under-declared content and mineral extraction tax (issue 5).

Valuation: `critmin.oversight.valuation`, contract terms: `critmin.oversight.terms`,
Kazakhstan MET rates: `critmin.oversight.tax` (docs/methods.md, "Export oversight").
"""
