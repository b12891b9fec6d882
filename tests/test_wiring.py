"""sweetspot.analysis.wiring: unit homes on a hand-built network whose answer is known, and the drawing runs."""

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sweetspot import config as config_lib  # noqa: E402
from sweetspot import metrics, mlp, targets  # noqa: E402
from sweetspot.analysis import wiring  # noqa: E402


def _setup():
    """4-input tree (nodes: x0..x3, v4 = (x0, x1), v5 = (x2, x3), root v6), depth 2 of 3 slots, width 4.

    h0: unit 0 reads x0 + x1 -> v4; unit 1 reads x2 + x3 -> v5; unit 2 reads x0 only -> leaf 0;
        unit 3 reads all four inputs equally -> root.
    h1: unit 0 reads h0 units 0 and 1 -> root; unit 1 reads h0 unit 0 only -> v4; unit 2 has no input
        (dead); unit 3 has no output (dead). Slot h2 is padding: no homes.
    """
    cfg = config_lib.default_config()
    cfg.target.levels = 2
    cfg.target.n_reference = 1024
    cfg.model.width = 4
    cfg.metrics.n_signature = 256
    target = targets.make_target(cfg.target)
    params = mlp.init(jax.random.PRNGKey(0), 4, 4, 3)
    m0 = np.zeros((4, 4), np.float32)
    m0[[0, 1], 0] = 1
    m0[[2, 3], 1] = 1
    m0[0, 2] = 1
    m0[:, 3] = 1
    m1 = np.zeros((4, 4), np.float32)
    m1[[0, 1], 0] = 1
    m1[0, 1] = 1
    m1[:, 3] = 1
    out = np.array([[1], [1], [1], [0]], np.float32)
    masks = {"h0": m0, "h1": m1, "h2": np.ones((4, 4), np.float32), "out": out}
    params = {
        k: {"w": np.ones_like(p["w"]) if k != "out" else np.asarray(p["w"]), "b": np.zeros_like(p["b"])}
        for k, p in params.items()
    }
    return cfg, target, params, masks


def test_unit_homes_hand_built():
    cfg, target, params, masks = _setup()
    assert target.structure.children[4:] == ((0, 1), (2, 3), (4, 5))
    x = metrics.make_probe(target, cfg.metrics)["x_sig"]
    homes = wiring.unit_homes(params, masks, 2, "relu", target, cfg.metrics, x)
    assert homes.shape == (3, 4)
    np.testing.assert_array_equal(homes, [[4, 5, 0, 6], [6, 4, -1, -1], [-1, -1, -1, -1]])


def test_draw_wiring_runs():
    cfg, target, params, masks = _setup()
    fig, ax = plt.subplots()
    homes = wiring.draw_wiring(ax, params, masks, 2, target, cfg, "hand-built")
    assert homes[0, 0] == 4
    fig.canvas.draw()
    plt.close(fig)


def test_pick_pair():
    base = {"method": "sp", "depth": "3", "sparsity": "0.8", "lr": "0.003", "weight_decay": "0.0", "diverged": "False"}
    rows = [
        {**base, "seed": "0", "C": "0.95", "fit": "True", "compositional": "True"},
        {**base, "seed": "1", "C": "0.99", "fit": "False", "compositional": "False"},
        {**base, "seed": "2", "C": "0.20", "fit": "True", "compositional": "False"},
        {**base, "seed": "3", "C": "nan", "fit": "True", "compositional": "False"},
    ]
    a, b = wiring.pick_pair(rows)
    assert a == "method=sp,depth=3,sparsity=0.8,lr=0.003,weight_decay=0.0,seed=0"
    assert b.endswith("seed=2")


def test_title_puts_the_label_after_the_score_it_is_judged_on():
    """A panel read "C = 0.95 (fractured)": the label is judged on IIA_das, so it follows IIA_das."""
    row = {"method": "sp", "sparsity": "0.8", "seed": "0", "C": "0.95", "IIA_das": "0.83", "compositional": "False",
           "fit": "True"}  # fmt: skip
    assert wiring._title(None, row, "", 3, 0.99).endswith("C = 0.95, IIA_das = 0.83: fractured")
    old = {k: v for k, v in row.items() if k != "IIA_das"} | {"compositional": "True"}  # before the distributed score
    assert wiring._title(None, old, "", 3, 0.99).endswith("C = 0.95: compositional")
    assert wiring._title(None, row | {"fit": "False"}, "", 3, 0.5).endswith(": unfit")


def test_the_section_title_names_the_labels_drawn():
    fractured, comp = {"fit": "True", "compositional": "False"}, {"fit": "True", "compositional": "True"}
    assert wiring.title_of([comp, fractured]) == "Wiring: a compositional and a fractured network"
    assert wiring.title_of([fractured, fractured]) == "Wiring: two fractured networks"
    assert wiring.title_of([{"fit": "False"}, fractured]) == "Wiring: an unfit and a fractured network"


def test_method_table_puts_iia_das_first_among_the_causal_columns():
    from sweetspot.analysis import method_table

    rows = [{"method": "sp", "depth": "3", "sparsity": "0.8", "IIA_das": str(v), "IIA": "0.1", "C": "0.5",
             "test_r2": "0.9"} for v in (0.6, 0.8)]  # fmt: skip
    head, _, line = method_table.table(rows, method_table.DEFAULT).splitlines()
    assert head == "| method | depth | sparsity | n | test_r2 | IIA_das | IIA | C |"
    assert line == "| sp | 3 | 0.8 | 2 | 0.900 ± 0.000 | 0.700 ± 0.100 | 0.100 ± 0.000 | 0.500 ± 0.000 |"
