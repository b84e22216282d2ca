"""Synthetic oversight ledgers: SYNTHETIC DATA, seeded, calibrated to real export volumes.

Every table of a simulated ledger has `synthetic = True` on every row, and `Ledger.synthetic`
is True: such a ledger is for demos and for measuring detection power, never real data.

Model (all defaults are design assumptions, see docs/methods.md, "Export oversight"):
- Volumes: the caller passes yearly tonnes by `hs6` × `destination` × `year` (for example
  Kazakhstan's BACI exports, `kaz_export_volumes`). Each row is cut into lots of about
  `ProductSpec.lot_wet_t` wet tonnes (gamma-distributed sizes that add up to the row's tonnes),
  dated uniformly over the year, with moisture ~ N(mean, sd) clipped to [0, 30] %.
- True grades: log-normal per element, median and geometric SD per HS code (`GradeSpec`).
- Measurement error, grade-dependent (Thompson–Howarth form): sd(c) = a + b·c, applied on the
  log scale, measured = c·exp(ε), ε ~ N(0, (a/c + b)²); a lab's `precision_scale` multiplies it.
- Declared (exporter's lab) result = true · (1 + bias) · exp(ε), bias = lab bias for the element
  (key "*" = every element) combined with any bias for that exporter:
  (1 + b_lab)(1 + b_lab,exporter) − 1; negative = under-reports. `bias_from` starts it on a date.
- Control: the state laboratory re-assays a random `control_share` of shipments (exactly
  round(share · N), without replacement), unbiased. When |control − declared| exceeds the
  splitting limit max(abs, rel · mean) an umpire laboratory assays the retained sample.
- Declared value: wet tonnes × the row's BACI unit value (value_usd / quantity_t) × declared /
  true grade of the product's first element (NaN when volumes carry no value_usd).
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from critmin.oversight.schema import Ledger

GradeUnit = Literal["%", "g/t", "ppm", "ppb"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GradeSpec(_Spec):
    """True grade of one element in one product: log-normal(median, geometric SD)."""
    element: str
    unit: GradeUnit
    median: float = Field(gt=0)
    gsd: float = Field(1.2, ge=1.0, description="geometric standard deviation (exp σ_log)")
    decimals: int = Field(2, ge=0, le=6, description="reported decimals")
    detection_limit: float = Field(0.01, ge=0)
    method: str | None = None


class ProductSpec(_Spec):
    """One HS code: lot size, moisture and the elements assayed."""
    hs6: str = Field(pattern=r"^\d{6}$")
    commodity: str
    lot_wet_t: float = Field(1500.0, gt=0)
    moisture_pct_mean: float = Field(8.0, ge=0, lt=100)
    moisture_pct_sd: float = Field(1.5, ge=0)
    grades: list[GradeSpec] = Field(min_length=1)


class PrecisionSpec(_Spec):
    """Measurement SD at grade c: a + b·c (a in the element's unit, b relative)."""
    a: float = Field(ge=0)
    b: float = Field(ge=0)


class SplittingLimit(_Spec):
    """Splitting limit at grade c: max(abs, rel·c), in the element's unit."""
    abs: float = Field(0.0, ge=0)
    rel: float = Field(0.0, ge=0)


class LaboratorySpec(_Spec):
    """An exporter-hired laboratory and its true (planted) biases, relative: −0.15 = reports
    15 % low. `bias` keys are elements or "*" (all); `bias_by_exporter` adds a bias for one
    exporter's shipments only."""
    laboratory_id: str
    name: str | None = None
    accreditation: str | None = "ISO/IEC 17025"
    bias: dict[str, float] = Field(default_factory=dict)
    bias_by_exporter: dict[str, dict[str, float]] = Field(default_factory=dict)
    bias_from: _dt.date | None = None
    precision_scale: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _biases_above_minus_one(self):
        for b in [*self.bias.values(), *(v for d in self.bias_by_exporter.values()
                                         for v in d.values())]:
            if not b > -1:
                raise ValueError(f"bias {b} must be > -1 (a relative error)")
        return self


class ExporterSpec(_Spec):
    """An exporter: the HS codes it ships, its share of their volume, the labs it hires."""
    exporter_id: str
    name: str | None = None
    hs6: list[str] = Field(min_length=1)
    laboratories: list[str] = Field(min_length=1)
    share: float = Field(1.0, gt=0)


# Defaults: [design]/[memory]-grade values (docs/methods.md, "Export oversight"), meant to be overridden.
DEFAULT_PRODUCTS: list[ProductSpec] = [
    ProductSpec(hs6="260300", commodity="copper", lot_wet_t=1500.0, grades=[
        GradeSpec(element="Cu", unit="%", median=22.0, gsd=1.15, decimals=2,
                  detection_limit=0.01, method="titration"),
        GradeSpec(element="Au", unit="g/t", median=2.0, gsd=1.6, decimals=2,
                  detection_limit=0.01, method="fire assay"),
        GradeSpec(element="Ag", unit="g/t", median=60.0, gsd=1.5, decimals=1,
                  detection_limit=0.5, method="fire assay")]),
    ProductSpec(hs6="261690", commodity="gold", lot_wet_t=500.0, moisture_pct_mean=7.0, grades=[
        GradeSpec(element="Au", unit="g/t", median=30.0, gsd=1.5, decimals=2,
                  detection_limit=0.01, method="fire assay"),
        GradeSpec(element="Ag", unit="g/t", median=50.0, gsd=1.6, decimals=1,
                  detection_limit=0.5, method="fire assay")]),
    ProductSpec(hs6="284690", commodity="rare_earths", lot_wet_t=20.0, moisture_pct_mean=1.0,
                moisture_pct_sd=0.3, grades=[
        GradeSpec(element="TREO", unit="%", median=70.0, gsd=1.1, decimals=2,
                  detection_limit=0.01, method="ICP-OES")]),
]
DEFAULT_PRECISION: dict[str, PrecisionSpec] = {
    "Cu": PrecisionSpec(a=0.05, b=0.01), "Au": PrecisionSpec(a=0.05, b=0.04),
    "Ag": PrecisionSpec(a=1.0, b=0.03), "TREO": PrecisionSpec(a=0.1, b=0.02),
}
DEFAULT_SPLITTING_LIMITS: dict[str, SplittingLimit] = {
    "Cu": SplittingLimit(abs=0.20), "Au": SplittingLimit(abs=0.20, rel=0.04),
    "Ag": SplittingLimit(abs=10.0, rel=0.04), "TREO": SplittingLimit(abs=0.5, rel=0.01),
}


class SimulationConfig(_Spec):
    """Everything `simulate_ledger` needs besides volumes and the seed."""
    exporters: list[ExporterSpec] = Field(min_length=1)
    laboratories: list[LaboratorySpec] = Field(min_length=1)
    products: list[ProductSpec] = Field(default_factory=lambda: list(DEFAULT_PRODUCTS))
    precision: dict[str, PrecisionSpec] = Field(default_factory=lambda: dict(DEFAULT_PRECISION))
    splitting_limits: dict[str, SplittingLimit] = Field(
        default_factory=lambda: dict(DEFAULT_SPLITTING_LIMITS))
    control_share: float = Field(0.10, ge=0, le=1, description="share of shipments re-assayed")
    umpire: bool = True
    state_laboratory_id: str = "STATE"
    umpire_laboratory_id: str = "UMPIRE"

    @model_validator(mode="after")
    def _consistent(self):
        labs = {lab.laboratory_id for lab in self.laboratories}
        if len(labs) != len(self.laboratories):
            raise ValueError("laboratory_id values must be unique")
        if {self.state_laboratory_id, self.umpire_laboratory_id} & labs:
            raise ValueError("state/umpire laboratory ids must differ from exporters' labs")
        codes = {p.hs6 for p in self.products}
        exps = {e.exporter_id for e in self.exporters}
        if len(exps) != len(self.exporters):
            raise ValueError("exporter_id values must be unique")
        for e in self.exporters:
            if missing := set(e.laboratories) - labs:
                raise ValueError(f"exporter {e.exporter_id} hires unknown labs {sorted(missing)}")
            if missing := set(e.hs6) - codes:
                raise ValueError(f"exporter {e.exporter_id} ships HS codes without a product "
                                 f"spec: {sorted(missing)}")
        elements = {g.element for p in self.products for g in p.grades}
        if missing := elements - set(self.precision):
            raise ValueError(f"no precision for elements {sorted(missing)}")
        for lab in self.laboratories:
            if unknown := set(lab.bias_by_exporter) - exps:
                raise ValueError(f"lab {lab.laboratory_id} has biases for unknown exporters "
                                 f"{sorted(unknown)}")
        return self


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def simulate_ledger(volumes: pd.DataFrame, config: SimulationConfig, random_state=None
                    ) -> Ledger:
    """A SYNTHETIC ledger (every row `synthetic = True`) drawn from `config` for `volumes`
    (columns hs6, destination, year, quantity_t [wet t]; optional value_usd), seeded by
    `random_state` (int, None or numpy Generator). Pure: same inputs and seed, same ledger.
    The ledger's `truth` table holds the true grades."""
    rng = _rng(random_state)
    need = {"hs6", "destination", "year", "quantity_t"}
    if missing := need - set(volumes.columns):
        raise ValueError(f"volumes lacks columns {sorted(missing)}")
    vol = volumes[volumes["quantity_t"].notna() & (volumes["quantity_t"] > 0)]
    vol = vol.reset_index(drop=True)
    products = {p.hs6: p for p in config.products}
    by_code = {h: [e for e in config.exporters if h in e.hs6] for h in products}
    if bad := sorted(set(vol["hs6"].astype(str)) - {h for h, es in by_code.items() if es}):
        raise ValueError(f"volumes have HS codes with no product spec or no exporter: {bad}")

    # --- shipments (lots)
    hs = vol["hs6"].astype(str).to_numpy()
    q = vol["quantity_t"].to_numpy(float)
    lot_t = np.array([products[h].lot_wet_t for h in hs])
    n_lots = np.maximum(1, np.rint(q / lot_t)).astype(int)
    row = np.repeat(np.arange(len(vol)), n_lots)
    w = rng.gamma(4.0, 1.0, row.size)
    wsum = np.bincount(row, weights=w)
    wet = np.round(q[row] * w / wsum[row], 3)
    wet = np.maximum(wet, 0.001)
    s_hs = hs[row]
    exporter = np.empty(row.size, dtype=object)
    for h, es in by_code.items():
        idx = np.flatnonzero(s_hs == h)
        if idx.size and es:
            p = np.array([e.share for e in es])
            exporter[idx] = np.array([e.exporter_id for e in es], dtype=object)[
                rng.choice(len(es), idx.size, p=p / p.sum())]
    years = vol["year"].to_numpy(int)[row]
    start = pd.to_datetime(pd.Series(years.astype(str)) + "-01-01").to_numpy()
    ndays = np.where(((years % 4 == 0) & (years % 100 != 0)) | (years % 400 == 0), 366, 365)
    date = start + (rng.integers(0, ndays)).astype("timedelta64[D]")
    m_mean = np.array([products[h].moisture_pct_mean for h in s_hs])
    m_sd = np.array([products[h].moisture_pct_sd for h in s_hs])
    moist = np.round(np.clip(rng.normal(m_mean, m_sd), 0.0, 30.0), 2)
    dry = np.round(wet * (1 - moist / 100), 3)
    order = np.lexsort((row, date))
    row, wet, dry, moist, s_hs, exporter, date = (a[order] for a in
                                                   (row, wet, dry, moist, s_hs, exporter, date))
    n = row.size
    sid = np.array([f"S{i + 1:06d}" for i in range(n)], dtype=object)
    exps = {e.exporter_id: e for e in config.exporters}
    labs = {lab.laboratory_id: lab for lab in config.laboratories}
    lab_of = np.empty(n, dtype=object)
    for e_id, e in exps.items():
        idx = np.flatnonzero(exporter == e_id)
        if idx.size:
            lab_of[idx] = np.array(e.laboratories, dtype=object)[
                rng.integers(0, len(e.laboratories), idx.size)]

    # --- true grades, long format: one row per shipment × element of its product
    rs, el, unit, dec, dl, meth, med, gsd = [], [], [], [], [], [], [], []
    for i, h in enumerate(s_hs):
        for g in products[h].grades:
            rs.append(i); el.append(g.element); unit.append(g.unit); dec.append(g.decimals)
            dl.append(g.detection_limit); meth.append(g.method); med.append(g.median)
            gsd.append(g.gsd)
    rs = np.array(rs); el = np.array(el, dtype=object); dec = np.array(dec)
    dl = np.array(dl); med = np.array(med); gsd = np.array(gsd)
    true = med * np.exp(np.log(gsd) * rng.standard_normal(rs.size))
    pa = np.array([config.precision[e].a for e in el])
    pb = np.array([config.precision[e].b for e in el])

    def measure(scale=1.0):
        cv = (pa / true + pb) * scale
        return true * np.exp(cv * rng.standard_normal(true.size))

    def report(x):
        r = np.round(x * 10.0 ** dec) / 10.0 ** dec
        return np.maximum(r, dl)

    # --- declared results
    factor = np.ones(rs.size)
    scale = np.ones(rs.size)
    for k in range(rs.size):
        lab = labs[lab_of[rs[k]]]
        scale[k] = lab.precision_scale
        if lab.bias_from is not None and date[rs[k]] < np.datetime64(lab.bias_from):
            continue
        b = lab.bias.get(el[k], lab.bias.get("*", 0.0))
        be = lab.bias_by_exporter.get(exporter[rs[k]], {})
        b2 = be.get(el[k], be.get("*", 0.0))
        factor[k] = (1 + b) * (1 + b2)
    declared = report(factor * measure(scale))

    # --- control and umpire assays
    n_ctrl = int(round(config.control_share * n))
    ctrl_ship = np.zeros(n, bool)
    ctrl_ship[rng.choice(n, n_ctrl, replace=False)] = True
    control = report(measure())
    is_ctrl = ctrl_ship[rs]
    lim = np.array([max(config.splitting_limits[e].abs, config.splitting_limits[e].rel * v)
                    if e in config.splitting_limits else np.inf
                    for e, v in zip(el, (declared + control) / 2)])
    is_ump = is_ctrl & (np.abs(control - declared) > lim) & config.umpire
    umpire = report(measure())

    # --- declared value from the row's unit value, scaled by declared/true first element
    first = np.zeros(rs.size, bool)
    first[np.r_[0, np.flatnonzero(np.diff(rs)) + 1]] = True
    ratio = np.ones(n)
    ratio[rs[first]] = declared[first] / true[first]
    if "value_usd" in vol.columns:
        uv = (vol["value_usd"].to_numpy(float) / q)[row]
        value = np.round(wet * uv * ratio, 2)
    else:
        value = np.full(n, np.nan)

    d = pd.to_datetime(date)
    shipments = pd.DataFrame({
        "shipment_id": sid, "exporter_id": exporter, "hs6": s_hs,
        "commodity": [products[h].commodity for h in s_hs], "wet_t": wet,
        "moisture_pct": moist, "dry_t": dry,
        "destination": vol["destination"].astype(str).to_numpy()[row],
        "declared_value_usd": value, "date": d,
        "lot": [f"LOT-{h}-{i + 1:06d}" for i, h in enumerate(s_hs)], "sub_lot": None,
        "synthetic": True})
    certificates = pd.DataFrame({
        "shipment_id": sid[rs], "laboratory_id": lab_of[rs], "method": meth, "element": el,
        "value": declared, "unit": unit, "detection_limit": dl, "date": d[rs],
        "certificate_id": [f"C{i + 1:06d}" for i in rs], "synthetic": True})
    parts = []
    for kind, mask, vals, lab_id in (("control", is_ctrl, control, config.state_laboratory_id),
                                     ("umpire", is_ump, umpire, config.umpire_laboratory_id)):
        k = np.flatnonzero(mask)
        parts.append(pd.DataFrame({
            "shipment_id": sid[rs[k]], "laboratory_id": lab_id,
            "method": np.array(meth, dtype=object)[k], "element": el[k], "value": vals[k],
            "unit": np.array(unit, dtype=object)[k], "detection_limit": dl[k],
            "date": d[rs[k]] + pd.Timedelta(days=7 if kind == "control" else 30),
            "control_id": [f"{kind[0].upper()}{j:06d}" for j in range(1, k.size + 1)],
            "sample_id": [f"{s}-{kind}" for s in sid[rs[k]]], "kind": kind,
            "synthetic": True}))
    control_assays = pd.concat(parts, ignore_index=True)
    exporters = pd.DataFrame({"exporter_id": list(exps),
                              "name": [e.name or f"Synthetic exporter {e.exporter_id}"
                                       for e in exps.values()],
                              "subsoil_use_contract": None, "synthetic": True})
    lab_rows = [(lab.laboratory_id, lab.name or f"Synthetic lab {lab.laboratory_id}",
                 lab.accreditation, "exporter") for lab in config.laboratories]
    lab_rows += [(config.state_laboratory_id, "Synthetic state laboratory", "ISO/IEC 17025",
                  "state"),
                 (config.umpire_laboratory_id, "Synthetic umpire laboratory", "ISO/IEC 17025",
                  "umpire")]
    laboratories = pd.DataFrame(lab_rows, columns=["laboratory_id", "name", "accreditation",
                                                   "hired_by"]).assign(synthetic=True)
    el_units = {g.element: g.unit for p in config.products for g in p.grades}
    elements = pd.DataFrame({"element": list(el_units), "unit": list(el_units.values()),
                             "synthetic": True})
    truth = pd.DataFrame({"shipment_id": sid[rs], "element": el, "value": true, "unit": unit,
                          "synthetic": True})
    ledger = Ledger(shipments=shipments, certificates=certificates,
                    control_assays=control_assays, exporters=exporters,
                    laboratories=laboratories, elements=elements, truth=truth,
                    sources={t: f"synthetic:{t}" for t in ("shipments", "certificates",
                                                            "control_assays")})
    for t in ledger.tables().values():
        t.attrs["synthetic"] = True
    return ledger


def kaz_export_volumes(con, *, years: list[int] | None = None,
                       hs6: tuple[str, ...] = ("260300", "261690", "284690"),
                       exporter: str = "KAZ", min_t: float = 1.0) -> pd.DataFrame:
    """Yearly BACI exports of `exporter` (default Kazakhstan) for each code in `hs6`, by
    destination: hs6, destination, year, quantity_t, value_usd. Rows under `min_t` tonnes
    or without known tonnes are dropped. Reads the warehouse through
    `queries.commodity_flows`."""
    from critmin.data.queries import commodity_flows

    parts = []
    for code in hs6:
        df = commodity_flows(con, years=years, exporter=exporter, hs6=[code])
        if len(df):
            parts.append(df.assign(hs6=code))
    if not parts:
        return pd.DataFrame(columns=["hs6", "destination", "year", "quantity_t", "value_usd"])
    out = pd.concat(parts, ignore_index=True).rename(columns={"importer": "destination"})
    out = out[out["quantity_t"].notna() & (out["quantity_t"] >= min_t)]
    out = out.groupby(["hs6", "destination", "year"], as_index=False)[
        ["quantity_t", "value_usd"]].sum()
    return out.sort_values(["hs6", "year", "destination"]).reset_index(drop=True)


# Kazakhstan's 2024 BACI exports (rows ≥ 1 t), read from the warehouse on 2026-11-29 with
# `kaz_export_volumes(con, years=[2024])`, so tests and demos run without a warehouse.
KAZ_2024_VOLUMES = pd.DataFrame(
    [("260300", "CAN", 2024, 4.527, 19187.0),
     ("260300", "CHN", 2024, 1618750.518, 2903029715.0),
     ("260300", "RUS", 2024, 181105.0, 216722178.0),
     ("260300", "UZB", 2024, 44594.454, 75882389.0),
     ("261690", "CHN", 2024, 102428.793, 300333608.0),
     ("261690", "KGZ", 2024, 1271.357, 127058.0),
     ("261690", "LTU", 2024, 20.8, 254241.0),
     ("261690", "NLD", 2024, 2.717, 2849.0),
     ("261690", "RUS", 2024, 673.187, 824675.0),
     ("261690", "UZB", 2024, 6969.0, 20237734.0),
     ("284690", "CHN", 2024, 27.728, 127430.0)],
    columns=["hs6", "destination", "year", "quantity_t", "value_usd"])


def power_study_config(*, n_laboratories: int = 20,
                       under_reporting: dict[str, float] | None = None,
                       control_share: float = 0.10) -> SimulationConfig:
    """The detection-power set-up: 8 exporters (E01–E06 copper concentrate 260300, E07 gold
    ore 261690, E08 gold ore and rare-earth compounds 284690), `n_laboratories` labs L01…
    assigned round-robin to exporters (lab i serves exporter (i − 1) mod 8), and the planted
    `under_reporting` (lab -> fraction, applied to every element; default L02 5 %, L03 15 %,
    L04 40 %, all copper-exporter labs)."""
    under = {"L02": 0.05, "L03": 0.15, "L04": 0.40} if under_reporting is None \
        else under_reporting
    lab_ids = [f"L{i:02d}" for i in range(1, n_laboratories + 1)]
    if unknown := set(under) - set(lab_ids):
        raise ValueError(f"under_reporting names unknown labs {sorted(unknown)}")
    exp_ids = [f"E{i:02d}" for i in range(1, 9)]
    codes = {e: ["260300"] for e in exp_ids[:6]}
    codes["E07"] = ["261690"]
    codes["E08"] = ["261690", "284690"]
    serves = {e: [lab for j, lab in enumerate(lab_ids) if j % 8 == k]
              for k, e in enumerate(exp_ids)}
    return SimulationConfig(
        exporters=[ExporterSpec(exporter_id=e, hs6=codes[e], laboratories=serves[e])
                   for e in exp_ids if serves[e]],
        laboratories=[LaboratorySpec(laboratory_id=lab, bias={"*": -under.get(lab, 0.0)})
                      for lab in lab_ids],
        control_share=control_share)
