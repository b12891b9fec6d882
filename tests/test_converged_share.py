"""The converged share beside the fit share in every E1-E3 table (docs/method.md, "Training": converged), on
hand-built rows whose answer is known; a run from before the label has no converged share (NaN), not 0. Nothing
trains."""

import numpy as np
import pytest

from sweetspot.analysis import base, e1_regime, e2_depth
from sweetspot.analysis import e3_connectivity as e3


def _row(method, depth, sparsity, seed, fit, converged, diverged=False):
    r = {"method": method, "depth": str(depth), "sparsity": str(sparsity), "lr": "0.003", "weight_decay": "0.0",
         "seed": str(seed), "IIA_das": "0.8", "IIA": "0.5", "C": "0.5", "C_gain": "0.1", "IIA_gain": "0.1",
         "IIA_das_init": "0.1", "IIA_das_control": "0.1", "compositional": "False", "compositional_local": "False",
         "modular": "False", "fit": str(fit), "test_r2": "0.97", "realised_sparsity": str(sparsity),
         "diverged": str(diverged), "layer_sparsity_h0": str(sparsity)}
    if converged is not None:
        r["converged"] = str(converged)
    return r


def _cell(method="sp", depth=2, sparsity=0.8, converged=(True,) * 3 + (False,) * 5, diverged=()):
    """Eight networks, every one fit; the i-th converged as `converged[i]` (None: no column); `diverged` seeds."""
    return [_row(method, depth, sparsity, s, True, converged[s], s in diverged) for s in range(8)]


def test_e1_cells_and_peaks_give_the_converged_share_beside_the_fit_share():
    conv = (True,) * 4 + (False,) * 4
    run = base.Run("/runs/e1_i0", {"config": {"experiment": "e1", "target": {"family": "tree", "seed": 0}}},
                   _cell(converged=conv, diverged=(0,)))  # the diverged one converged on its curve: counts as 0
    rows = e1_regime.pooled([run])[0][1]
    header, (row,) = e1_regime.cells_table(rows)
    got = dict(zip(header, row, strict=True))
    assert header.index("converged_mean") == header.index("fit_hi") + 1
    assert got["converged_mean"] == pytest.approx(3 / 8) and got["fit_mean"] == pytest.approx(7 / 8)
    header, peaks = e1_regime.peaks_table(rows)
    assert header[header.index("fit_share") + 1] == "converged_share"
    first = dict(zip(header, peaks[0], strict=True))
    assert first["converged_share"] == pytest.approx(3 / 8) and first["fit_share"] == pytest.approx(7 / 8)
    old = e1_regime.pooled([base.Run("/runs/old", run.meta, _cell(converged=(None,) * 8))])[0][1]
    header, (row,) = e1_regime.cells_table(old)
    assert np.isnan(dict(zip(header, row, strict=True))["converged_mean"])  # a run from before the label


def test_e2_falloff_and_peaks_give_the_converged_share_beside_the_fit_share():
    rows = []
    for d, iia in ((1, 0.5), (2, 0.9), (3, 0.6)):  # the IIA_das peak at depth 2, the deepest is 3
        for r in _cell(depth=d, converged=(True,) * (2 * d) + (False,) * (8 - 2 * d)):
            r["IIA_das"] = str(iia + 0.001 * int(r["seed"]))
            rows.append(r)
    run = base.Run("runs/e2_x_i0", {"config": {"experiment": "e2/x", "target": {"family": "tree", "seed": 0}}}, rows)
    (res,) = e2_depth.study([run], own_depth=lambda r: 3, n_boot=50)
    row = dict(zip(e2_depth.FALLOFF_HEADER, e2_depth.falloff(res), strict=True))
    h = e2_depth.FALLOFF_HEADER
    assert h.index("converged_deepest") == h.index("deepest_fits") + 1
    assert row["converged_deepest"] == pytest.approx(6 / 8) and row["fit_deepest"] == pytest.approx(1.0)
    peak = dict(zip(e2_depth.PEAKS_HEADER, e2_depth._peak_rows(res)[0], strict=True))
    h = e2_depth.PEAKS_HEADER
    assert h.index("converged_at_IIA_das_peak") == h.index("fit_at_IIA_das_peak_hi") + 1
    assert peak["peak_IIA_das"] == 2 and peak["converged_at_IIA_das_peak"] == pytest.approx(4 / 8)


def test_e3_tables_give_the_converged_share_beside_the_fit_share():
    rows = _cell("sp", 3, 0.5, converged=(True,) * 6 + (False,) * 2, diverged=(7,))  # diverged: excluded
    rows += _cell("shuffled:sp", 3, 0.5, converged=(True,) * 2 + (False,) * 6)
    rows += _cell("random", 3, 0.5, converged=(True,) * 8)
    rows += _cell("dense", 3, 0.5, converged=(False,) * 8)
    methods = ["sp", "shuffled:sp", "random", "dense"]
    header, table = e3.HEADER, [e3._method_row(rows, m, 0.5) for m in methods]
    assert header.index("frac_converged") == header.index("frac_fit") + 1
    by = {t[0]: dict(zip(header, t, strict=True)) for t in table}
    assert by["sp"]["frac_converged"] == pytest.approx(6 / 7) and by["random"]["frac_converged"] == 1.0
    (shuffled,) = [dict(zip(e3.SHUFFLED_HEADER, t, strict=True)) for t in e3.shuffled_table(rows, methods, [0.5])]
    assert (shuffled["converged_method"], shuffled["converged_control"]) == (pytest.approx(6 / 7), 0.25)
    assert shuffled["compared"] is True
    for ref, table_of, head in (("random", e3.vs_random_table, e3.VS_RANDOM_HEADER),
                                ("dense", e3.vs_dense_table, e3.VS_DENSE_HEADER)):
        assert head[head.index(f"fit_{ref}") + 1: head.index(f"fit_{ref}") + 3] == ["converged_method",
                                                                                   f"converged_{ref}"]
        got = {t[0]: dict(zip(head, t, strict=True)) for t in table_of(rows, methods, [0.5])}
        assert got["sp"][f"converged_{ref}"] == (1.0 if ref == "random" else 0.0)
        assert got["sp"]["converged_method"] == pytest.approx(6 / 7)
    old = [{k: v for k, v in r.items() if k != "converged"} for r in rows]
    assert np.isnan(e3.converged_fraction(old, "sp", 0.5))  # a run from before the label
