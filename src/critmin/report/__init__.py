"""The self-contained HTML brief (`critmin brief`): five sections — supply concentration,
trade flows, shock scenarios, export oversight on a synthetic ledger, producer credit — each
drawn from the model functions of critmin.risk, market, oversight and credit. The brief
computes no number of its own."""

from critmin.report.build import build_brief, split_scenarios

__all__ = ["build_brief", "split_scenarios"]
