"""The report in a browser (issue 31, item 5): figure titles never overlap panel titles, wide tables scroll inside
their own box with the verdict's columns first and the full CSV one click away, figures have captions, and each
section opens with its one-line result. Screenshots: docs/reliability.md, "The report in a browser"."""

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


def test_each_section_opens_with_its_result_and_figures_have_captions(tmp_path):
    from sweetspot.analysis import base, page

    fig, ax = plt.subplots()
    ax.set_title("panel")
    fig.suptitle("E9: $R^2$ against depth, one line per method")
    png = base.save_figure(fig, str(tmp_path), "e9")
    assert page.caption(str(tmp_path / png)) == "E9: R^2 against depth, one line per method"
    sections = [
        base.Section("E9", "A long paragraph of method. More words here.", [png], verdict="E9 peaks at depth 3."),
        base.Section("E10", "Nothing fits at this size. More words."),
    ]
    text = open(page.write_index(str(tmp_path), sections, "cmd")).read()
    assert "<h2 id='s0'>E9</h2><p class='verdict'>E9 peaks at depth 3.</p>" in text
    assert (
        "<h2 id='s1'>E10</h2><p class='verdict'>Nothing fits at this size.</p>\n<p class='text'>More words.</p>" in text
    )
    assert "A long paragraph of method. More words here." in text  # a section's own verdict keeps its whole text
    assert "<figcaption>E9: R^2 against depth, one line per method (<a href='e9.pdf'>PDF</a>)</figcaption>" in text
    assert "<li><a href='#s0'>E9</a>: E9 peaks at depth 3.</li>" in text


def test_the_wiring_caption_says_what_is_drawn_when_nothing_fits():
    """It said "the most compositional fit network" when no network fit (wiring.py:347)."""
    from sweetspot.analysis import wiring

    unfit = [{"fit": "False", "C": "0.4", "compositional": "False"}, {"fit": "False", "C": "0.1"}]
    left, right = wiring._sides(unfit, pruned=True)
    assert left.startswith("no network fits") and "(unfit)" in right
    fit = [{"fit": "True", "C": "0.4", "compositional": "False"}, {"fit": "True", "C": "0.1"}]
    assert wiring._sides(fit, pruned=True)[0].startswith("no network is compositional")
    fit[0]["compositional"] = "True"
    assert wiring._sides(fit, pruned=False) == (
        "the compositional network with the highest C",
        "the fit network with the lowest C",
    )
