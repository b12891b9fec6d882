"""The report in a browser (issue 31, item 5): figure titles never overlap panel titles, wide tables scroll inside
their own box with the verdict's columns first and the full CSV one click away, figures have captions, and each
section opens with its headline, figure and numbers. Screenshots: docs/reliability.md, "The report in a browser"."""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sweetspot.analysis import regime_heatmap  # noqa: E402


def _rows(methods, depths, sparsities, seeds=2):
    return [
        {"method": m, "depth": str(d), "sparsity": str(s), "seed": str(k), "test_r2": str(0.5 + 0.01 * d - 0.1 * s)}
        for m, d, s, k in itertools.product(methods, depths, sparsities, range(seeds))
    ]


def _overlaps(fig):
    """Pairs of title texts (figure title, panel titles) whose drawn boxes overlap."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [fig._suptitle] + [ax.title for ax in fig.axes if ax.get_title()]
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in texts if t is not None and t.get_text()]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


GRIDS = [
    (("sp",), (3,), (0.8,)),
    (("random", "sp"), (1,), (0.0, 0.5, 0.9)),
    (("random", "sp"), range(1, 7), (0.0, 0.9)),
]


@pytest.mark.parametrize("methods,depths,sparsities", GRIDS, ids=["1x1x1", "one depth", "6 depths"])
def test_heatmap_titles_never_overlap(methods, depths, sparsities):
    """A one-depth grid's figure title overlapped its panel titles (regime_heatmap, figure height 1.55 in)."""
    fig = regime_heatmap.figure(_rows(methods, depths, sparsities), "test_r2")
    try:
        assert len(fig._suptitle.get_text()) and len([a for a in fig.axes if a.get_title()]) == len(methods)
        assert _overlaps(fig) == []
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------------------ the page
def test_a_wide_table_puts_key_and_verdict_columns_first_with_intervals_in_one_cell():
    from sweetspot.analysis import page

    header = ["method", "depth", "test_r2_mean", "test_r2_lo", "test_r2_hi", "networks", "IIA_mean", "IIA_lo", "IIA_hi"]
    header += ["extra", "compositional_mean", "compositional_lo", "compositional_hi", "note"]
    row = ["sp", "3", "0.9", "0.8", "0.95", "40", "0.7", "0.6", "0.8", "1", "0.5", "0.4", "0.6", "ok"]
    h, rows = page.order_columns(header, [row])
    assert h == [
        "method",
        "depth",
        "networks",
        "note",
        "compositional [lo, hi]",
        "IIA [lo, hi]",
        "test_r2 [lo, hi]",
        "extra",
    ]
    assert rows == [["sp", "3", "40", "ok", "0.5 [0.4, 0.6]", "0.7 [0.6, 0.8]", "0.9 [0.8, 0.95]", "1"]]


def test_tables_scroll_in_their_own_box_and_link_the_full_csv(tmp_path):
    from sweetspot.analysis import base, page

    base.write_table(str(tmp_path), "wide", [f"col{i}" for i in range(30)], [list(range(30))] * 3)
    text = page.table_html(str(tmp_path / "wide.csv"))
    assert text.index("<div class='scroll'><table>") > text.index("href='wide.csv'>full CSV</a>")
    assert "3 rows, 30 columns" in text and text.endswith("</table></div>")
    assert ".scroll{overflow:auto" in page.STYLE and "th{position:sticky" in page.STYLE


def test_each_section_opens_with_its_headline_figure_and_numbers(tmp_path):
    from sweetspot.analysis import base, page

    fig, ax = plt.subplots()
    ax.set_title("panel")
    fig.suptitle("E9: $R^2$ against depth, one line per method")
    png = base.save_figure(fig, str(tmp_path), "e9")
    assert page.caption(str(tmp_path / png)) == "E9: R^2 against depth, one line per method"
    numbers = [["method", "peak", "IIA_das", "cases"], ["sp", 3, (0.81234, 0.7, 0.9), 5040],
               ["random", "", float("nan"), 1]]  # fmt: skip
    sections = [
        base.Section("E9", "E9 peaks at depth 3.", [png, "No map of X: every cell is 0."], [], numbers,
                     empty="no peak", details="More about `e9.csv`.", about="How E9 is computed.\n\n- one\n- two"),
        base.Section("E10", "Nothing fits at this size."),
    ]  # fmt: skip
    text = open(page.write_index(str(tmp_path), sections, "cmd")).read()
    assert "<h2 id='s0'>E9</h2><p class='headline'>E9 peaks at depth 3.</p>\n<figure>" in text
    assert "<figcaption>E9: R^2 against depth, one line per method (<a href='e9.pdf'>PDF</a>)</figcaption>" in text
    assert "<td>sp</td><td>3</td><td>0.81 [0.70, 0.90]</td><td>5,040</td>" in text
    assert "<td>random</td><td></td><td></td><td>1</td>" in text and "Empty cell: no peak." in text
    assert "<summary>More figures (1)</summary><p class='text'>No map of X: every cell is 0.</p>" in text
    assert "More about <code>e9.csv</code>." in text and "<p class='text'>- one</p><p class='text'>- two</p>" in text
    assert "<li><a href='#s0'>E9</a>: E9 peaks at depth 3.</li>" in text
    assert "<h2 id='s1'>E10</h2><p class='headline'>Nothing fits at this size.</p>" in text


def test_the_wiring_headline_says_what_is_drawn_when_nothing_fits():
    """It said "the most compositional fit network" when no network fit (wiring.py:347)."""
    from sweetspot.analysis import wiring

    unfit = [{"fit": "False", "C": "0.4", "compositional": "False"}, {"fit": "False", "C": "0.1"}]
    assert wiring._sides(unfit, pruned=True).startswith("No network fits: drawn are the one with the highest C")
    fit = [{"fit": "True", "C": "0.4", "compositional": "False"}, {"fit": "True", "C": "0.1"}]
    assert wiring._sides(fit, pruned=True) == (
        "No network is compositional: drawn are the fit networks with the highest C (top) and the lowest C among "
        "the pruned ones."
    )
    fit[0]["compositional"] = "True"
    assert wiring._sides(fit, pruned=False) == (
        "Drawn: the compositional network with the highest C (top) and the fit one with the lowest C."
    )


def test_a_flat_heatmap_is_a_sentence_and_a_flat_panel_says_why(tmp_path):
    """The compositional heatmap of the demo was 0 in every cell: a solid block with no word why."""
    rows = _rows(("random", "sp"), (1, 2), (0.0, 0.5))
    for r in rows:
        r["compositional"] = "False"
    assert regime_heatmap.heatmap(rows, "compositional", str(tmp_path / "c")) == (
        "No map of the fraction of compositional seeds (distributed label): every cell is 0 for every method, over "
        "16 networks."
    )
    assert not (tmp_path / "c.png").exists()
    for r in rows:
        r["compositional"] = str(r["method"] == "sp" and r["sparsity"] == "0.5")
    assert regime_heatmap.heatmap(rows, "compositional", str(tmp_path / "c")) == str(tmp_path / "c.png")
    fig = regime_heatmap.figure(rows, "compositional")
    try:
        assert [t.get_text() for t in fig.axes[0].texts] == ["every cell is 0"] and not fig.axes[0].images
        assert fig.axes[1].images  # sp's panel has a picture
    finally:
        plt.close(fig)
