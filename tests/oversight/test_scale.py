"""The vectorised paths used at national scale give the same numbers as the per-group
functions they replace: `group_tests` vs `paired_t` / `wilcoxon_signed_rank` group by group
(ties, zeros, small exact groups, a constant group), and the partition-based top-k vs a
full lexicographic sort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from critmin.oversight.bias import (BiasInputError, group_tests, paired_t,
                                    wilcoxon_signed_rank)
from critmin.oversight.selection import _top_k


def test_group_tests_equal_the_scalar_tests():
    rng = np.random.default_rng(0)
    parts = []
    for lab in range(30):
        n = int(rng.integers(1, 120))
        d = rng.normal(0.01 * (lab % 3), 0.05, n)
        if lab % 4 == 0:
            d = np.round(d, 2)          # ties and zeros: the asymptotic, tie-corrected path
        if lab == 5:
            d = np.zeros(n)             # every difference zero
        for el in ("Cu", "Au"):
            parts.append(pd.DataFrame({"laboratory_id": f"L{lab:02d}", "element": el, "d": d}))
    pairs = pd.concat(parts, ignore_index=True)
    out = group_tests(pairs, ["laboratory_id", "element"]).set_index(
        ["laboratory_id", "element"])
    for key, g in pairs.groupby(["laboratory_id", "element"]):
        d, r = g["d"].to_numpy(), out.loc[key]
        assert r["n"] == d.size
        if d.size < 2:
            assert np.isnan(r["p_t"]) and np.isnan(r["p_wilcoxon"])
            continue
        t = paired_t(d)
        w = wilcoxon_signed_rank(d).p_value if (d != 0).any() else 1.0
        # same formulas, summed in another order: 1e-10 relative
        assert r["p_t"] == pytest.approx(t.p_value, rel=1e-10)
        assert r["t"] == pytest.approx(t.statistic, rel=1e-10)
        assert r["p_wilcoxon"] == pytest.approx(w, rel=1e-10)
    # one key, and a key whose name the function might use internally
    one = group_tests(pairs.rename(columns={"laboratory_id": "a"}), ["a"]).set_index("a")
    d = pairs.loc[pairs["laboratory_id"] == "L07", "d"].to_numpy()
    assert one.loc["L07", "p_t"] == pytest.approx(paired_t(d).p_value, rel=1e-10)
    assert one.loc["L07", "p_wilcoxon"] == pytest.approx(wilcoxon_signed_rank(d).p_value,
                                                         rel=1e-10)
    bad = pairs.copy()
    bad.loc[3, "d"] = np.inf
    with pytest.raises(BiasInputError, match="row 3"):
        group_tests(bad, ["laboratory_id", "element"])


@pytest.mark.parametrize("k", [1, 7, 50, 200])
def test_top_k_equals_full_sort(k):
    rng = np.random.default_rng(k)
    key = np.round(rng.normal(0, 1, 200), 1)      # many ties in the key
    val = np.round(rng.uniform(0, 3, 200))        # and in the tie-breaking value
    u = rng.random(200)
    full = np.lexsort((-u, -val, -key))[:k]
    assert _top_k(key, val, u, k).tolist() == full.tolist()
