"""Reproduction v2 analyses on hand-built rows whose answer is known (no training): E3's method-vs-shuffled
comparison only where both sides fit, paired by seed, method vs random and vs dense, on the distributed score
IIA_das first (set apart from the local IIA so that a comparison reading the wrong column fails); E5's
deduplication of networks that several runs share, and its Spearman intervals."""

import numpy as np

from sweetspot.analysis import e3_connectivity as e3
from sweetspot.analysis import e5_generalization as e5
from sweetspot.analysis import stats
from sweetspot.analysis.base import Run

SEEDS = range(8)
SPREAD = np.linspace(0.1, 0.8, 8)[[3, 0, 6, 1, 7, 2, 5, 4]]  # per-seed level, far wider than the shifts


def _row(method, sparsity, seed, iia, c, fit, comp=False, diverged=False, das=None, modular=False):
    return {
        "IIA_das": str(iia if das is None else das),
        "modular": str(modular),
        "method": method,
        "depth": "3",
        "sparsity": str(sparsity),
        "lr": "0.003",
        "weight_decay": "0.0",
        "seed": str(seed),
        "IIA": str(iia),
        "C": str(c),
        "C_gain": str(c / 2),
        "compositional": str(comp),
        "fit": str(fit),
        "test_r2": "0.97",
        "diverged": str(diverged),
        "layer_sparsity_h0": str(sparsity),
    }


def _e3_rows(dense=False):
    """sp = shuffled:sp + 0.3 in IIA_das, + 0.2 in IIA and + 0.1 in C on every seed, compositional on seeds 0-3
    and modular on 0-5 (shuffled never); at sparsity 0.9 shuffled:sp fits on 2 of 8 seeds; snip = random + 0.15 in
    IIA_das but - 0.1 in IIA; sp's seed 7 at 0.5 diverged. With `dense`: dense = random + 0.1 in IIA_das and - 0.2
    in IIA (the local score blind to it), never modular."""
    rows = []
    for s in (0.5, 0.9):
        for seed in SEEDS:
            base = SPREAD[seed]
            rows.append(_row("sp", s, seed, base + 0.2, base + 0.1, True, comp=seed < 4,
                             diverged=(s, seed) == (0.5, 7), das=base + 0.3, modular=seed < 6))  # fmt: skip
            rows.append(_row("shuffled:sp", s, seed, base, base, s == 0.5 or seed < 2))
            rows.append(_row("random", s, seed, base, base, True))
            rows.append(_row("snip", s, seed, base - 0.1, base, seed % 2 == 0, das=base + 0.15))
            if dense:
                rows.append(_row("dense", s, seed, base - 0.2, base, True, das=base + 0.1))
    return rows


def test_shuffled_is_compared_only_where_both_fit_and_paired_by_seed():
    rows = _e3_rows()
    methods = ["sp", "shuffled:sp", "random", "snip"]
    table = [dict(zip(e3.SHUFFLED_HEADER, t, strict=True)) for t in e3.shuffled_table(rows, methods, [0.5, 0.9])]
    assert [(t["sparsity"], t["compared"]) for t in table] == [(0.5, True), (0.9, False)]
    at5, at9 = table
    # the constant per-seed shift is a point interval once paired; sp's diverged seed 7 drops its pair
    assert at5["n_IIA"] == at5["n_C"] == 7
    assert np.allclose([at5["dIIA"], at5["dIIA_lo"], at5["dIIA_hi"]], 0.2)
    assert np.allclose([at5["dC"], at5["dC_lo"], at5["dC_hi"]], 0.1)
    assert np.isclose(at5["dcompositional"], 4 / 7) and at5["dcompositional_lo"] > 0
    assert at5["n_IIA_das"] == 7 and np.allclose([at5["dIIA_das"], at5["dIIA_das_lo"], at5["dIIA_das_hi"]], 0.3)
    assert np.isclose(at5["dmodular"], 6 / 7) and at5["dmodular_lo"] > 0
    assert (at9["fit_method"], at9["fit_control"]) == (1.0, 0.25)
    assert np.isnan(at9["dIIA"]) and at9["n_IIA"] == 0 and np.isnan(at9["dIIA_das"]) and at9["n_IIA_das"] == 0


def test_vs_random_finds_a_method_below_random(tmp_path):
    rows = _e3_rows()
    methods = ["sp", "shuffled:sp", "random", "snip"]
    table = [dict(zip(e3.VS_RANDOM_HEADER, t, strict=True)) for t in e3.vs_random_table(rows, methods, [0.5, 0.9])]
    snip = [t for t in table if t["method"] == "snip"]
    assert len(snip) == 2 and all(np.isclose(t["dIIA"], -0.1) and t["dIIA_hi"] < 0 for t in snip)
    assert all(np.isclose(t["dIIA_das"], 0.15) and t["dIIA_das_lo"] > 0 for t in snip)  # distributed: above
    assert all(t["fit_method"] == 0.5 and t["fit_random"] == 1.0 for t in snip)
    run = Run("fake", {"config": {"experiment": "e3/fake"}}, rows)
    section = e3.make([run], str(tmp_path))
    sp = dict(zip(section.numbers[0], section.numbers[1], strict=True))
    assert sp["IIA_das above its shuffled control"] == "1 of 1"  # at 0.9 not compared (fit fraction 1.00 / 0.25)
    shuffled = csv_rows(tmp_path / "e3_fake_shuffled.csv")
    assert [(r["sparsity"], r["compared"], r["n_IIA_das"], r["dIIA_das"]) for r in shuffled] == [
        ("0.5", "True", "7", "0.3"), ("0.9", "False", "0", "nan")]  # fmt: skip
    vs_random = {(r["method"], r["sparsity"]): r for r in csv_rows(tmp_path / "e3_fake_vs_random.csv")}
    assert all(float(vs_random["snip", s]["dIIA_hi"]) < 0 < float(vs_random["snip", s]["dIIA_das_lo"]) for s in
               ("0.5", "0.9"))  # fmt: skip
    assert set(section.tables) == {"e3_fake_methods.csv", "e3_fake_shuffled.csv", "e3_fake_vs_random.csv"}
    methods_table = (tmp_path / "e3_fake_methods.csv").read_text().splitlines()
    header = methods_table[0].split(",")
    for col in ("IIA_mean", "IIA_lo", "IIA_hi", "C_gain_mean", "C_lo", "n_fit", "C_fit_mean", "IIA_fit_hi",
                "IIA_das_mean", "IIA_das_lo", "frac_modular_hi", "frac_compositional_local", "IIA_das_fit_mean"):
        assert col in header
    assert len(set(header)) == len(header) == len(e3.HEADER)
    snip_05 = dict(zip(header, methods_table[1 + 3 * 2].split(","), strict=True))  # rows: method-major
    assert snip_05["method"] == "snip" and snip_05["n_fit"] == "4"
    sp_05 = dict(zip(header, methods_table[1].split(","), strict=True))
    assert np.isclose(float(sp_05["IIA_das_mean"]), np.mean(SPREAD[:7]) + 0.3, atol=1e-3)  # seed 7 diverged
    assert np.isclose(float(sp_05["IIA_mean"]), np.mean(SPREAD[:7]) + 0.2, atol=1e-3)
    assert np.isclose(float(sp_05["frac_modular"]), 6 / 7, atol=1e-3)


def test_vs_dense_follows_the_distributed_score_and_the_modular_label(tmp_path):
    rows = _e3_rows(dense=True)
    methods = ["sp", "shuffled:sp", "random", "snip", "dense"]
    table = [dict(zip(e3.VS_DENSE_HEADER, t, strict=True)) for t in e3.vs_dense_table(rows, methods, [0.5, 0.9])]
    assert [(t["method"], t["sparsity"]) for t in table] == [(m, s) for m in methods[:4] for s in (0.5, 0.9)]
    d = {(t["method"], t["sparsity"]): t for t in table}
    sp5, snip9, rnd9 = d["sp", 0.5], d["snip", 0.9], d["random", 0.9]
    # IIA_das: sp dense + 0.2, snip + 0.05, random - 0.1; the local IIA says the opposite of random's
    assert sp5["n_IIA_das"] == 7 and np.allclose([sp5["dIIA_das"], sp5["dIIA_das_lo"], sp5["dIIA_das_hi"]], 0.2)
    assert np.allclose([snip9["dIIA_das"], rnd9["dIIA_das"], rnd9["dIIA"]], [0.05, -0.1, 0.2])
    assert np.isclose(sp5["dIIA"], 0.4) and np.isclose(sp5["dC"], 0.1)
    assert np.isclose(sp5["dmodular"], 6 / 7) and sp5["dmodular_lo"] > 0 and rnd9["dmodular"] == 0
    assert np.isclose(d["sp", 0.9]["dcompositional"], 0.5) and (snip9["fit_method"], snip9["fit_dense"]) == (0.5, 1)
    assert e3.vs_dense_table(rows, methods[:4], [0.5]) == []  # no dense in the run
    run = Run("fake", {"config": {"experiment": "e3/fake"}}, rows)
    section = e3.make([run], str(tmp_path))
    assert "e3_fake_vs_dense.csv" in section.tables
    dense = {r[1]: r[-1] for r in section.numbers[1:]}  # IIA_das minus dense's: wholly above / below 0, of 2
    assert dense == {"sp": "2 / 0 of 2", "shuffled:sp": "0 / 2 of 2", "random": "0 / 2 of 2", "snip": "2 / 0 of 2",
                     "dense": ""}  # fmt: skip
    dense_row = next(r for r in csv_rows(tmp_path / "e3_fake_methods.csv") if r["method"] == "dense")
    assert float(dense_row["frac_modular"]) == 0 and float(dense_row["IIA_das_mean"]) > float(dense_row["IIA_mean"])


def csv_rows(path):
    import csv

    return list(csv.DictReader(open(path)))


def _e5_run(name, experiment, steps, points, sparsity_text="0.8", metrics_n=512):
    """A fake run: config blocks as in meta.json (train.steps varies), rows at (method, seed) points; C and IIA_das
    rise with the seed and the loss ratio falls with it, IIA the other way round."""
    cfg = {
        "seed": 0,
        "experiment": experiment,
        "target": {"family": "tree", "levels": 3, "seed": 0},
        "model": {"width": 32},
        "train": {"steps": steps},
        "pruning": {"rounds": 3},
        "metrics": {"n_iia": metrics_n},  # measurement, not training: does not split a network
        "grid": {"seed": [p[1] for p in points]},  # which points a run has: neither
    }
    axes = {"method": [], "depth": [], "sparsity": [], "lr": [], "weight_decay": [], "seed": []}
    rows = [
        {
            "method": m,
            "depth": "3",
            "sparsity": sparsity_text,
            "lr": "0.003",
            "weight_decay": "0.0",
            "seed": str(seed),
            "C": str(0.1 * seed),
            "IIA_das": str(0.5 + 0.05 * seed),
            "IIA": str(1 - 0.1 * seed),
            "gen_ratio": str(2.0 - 0.1 * seed),
            "heldout_loss": str(1.0 + 0.01 * seed),
            "fit": "True",
        }
        for m, seed in points
    ]
    return Run(name, {"config": cfg, "axes": axes}, rows)


def test_networks_shared_by_two_runs_count_once(tmp_path):
    pts = [(m, s) for m in ("sp", "random") for s in range(6)]
    e1 = _e5_run("runs/e1", "e1", 3000, pts)
    # E3 trains the identical network at sp seeds 0-3 (sparsity written "0.80"), plus 4 networks of its own
    e3run = _e5_run("runs/e3", "e3/tree_L3", 3000, [("sp", s) for s in range(4)] + [("snip", s) for s in range(4)],
                    sparsity_text="0.80", metrics_n=256)  # fmt: skip
    other = _e5_run("runs/long", "e2/tree_L3", 6000, [("sp", s) for s in range(4)])  # other steps: other networks
    kept, dropped = e5.dedupe([e1, e3run, other])
    assert dropped == [0, 4, 0] and [len(k) for k in kept] == [12, 4, 4]
    assert [r["method"] for r in kept[1]] == ["snip"] * 4
    section = e5.make([other, e3run, e1], str(tmp_path))  # make sorts by name: e1 first, so e1 keeps them
    assert section.details.startswith("4 of 24 points (17%) dropped as duplicates")
    table = (tmp_path / "e5_generalization.csv").read_text().splitlines()
    header = table[0].split(",")
    pooled = [dict(zip(header, t.split(","), strict=True)) for t in table[1:] if t.startswith("all,")]
    assert {(d["measure"], d["predictor"]) for d in pooled} == {
        (m, p) for m in ("gen_ratio", "heldout_loss") for p in ("IIA_das", "IIA", "C")
    }
    assert all(d["n"] == "20" and d["duplicates_dropped"] == "4" for d in pooled)
    per_run = [dict(zip(header, t.split(","), strict=True)) for t in table[1:] if t.startswith("e3/")]
    assert all(d["n"] == "8" and d["duplicates_dropped"] == "4" for d in per_run)  # a run alone keeps every row
    ratio = {d["predictor"]: float(d["spearman_rho"]) for d in pooled if d["measure"] == "gen_ratio"}
    assert ratio == {"IIA_das": -1.0, "C": -1.0, "IIA": 1.0}
    assert [d["predictor"] for d in pooled][:3] == ["IIA_das", "IIA", "C"]  # the distributed score first
    assert section.headline == (
        "Networks with a higher IIA_das generalize better to held-out combinations: Spearman rho(IIA_das, held-out / "
        "test loss) -1.00 [-1.00, -1.00] over 20 networks, every run pooled."
    )
    iia = next(r for r in section.numbers if r[1] == "IIA")
    assert iia[0] == "real: held-out / test loss" and iia[2] == 20 and iia[3][0] == 1.0


def test_spearman_interval_is_deterministic_and_covers_the_truth():
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    rho, lo, hi, _, n = e5.spearman_ci(x, x**3)
    assert (rho, lo, hi, n) == (1.0, 1.0, 1.0, 200)
    y = rng.normal(size=200)
    assert e5.spearman_ci(x, y) == e5.spearman_ci(x, y)
    r, lo, hi, _, _ = e5.spearman_ci(x, y)
    assert lo < 0 < hi and lo <= r <= hi
    assert np.isnan(e5.spearman_ci([1.0, 2.0], [2.0, 1.0])[1])


def test_resampled_ranks_match_scipy_on_each_resample():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    a = rng.integers(0, 6, 40).astype(float)  # many ties, more once resampled
    b = a + rng.integers(0, 3, 40)
    idx = rng.integers(0, 40, (20, 40))
    want = [spearmanr(a[i], b[i]).statistic for i in idx]
    assert np.allclose(stats.spearman_rows(a[idx], b[idx]), want)
    assert np.isnan(stats.spearman_rows(a[idx[:1]], np.ones(40)[idx[:1]])[0])  # a constant side
