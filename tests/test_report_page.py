"""The report's page as a reader takes it in (issue 37): the first screen says what was run and gives one headline per
section; no raw markdown, no walls of "nan", the run block once, counts as counts, section titles true to what they
show, short openings (the statistics prose collapsed), and figure text legible at 800 and 1400 px.

The page is the report of conftest's metrics run (E1, E4, E5, wiring and T3 sections), or, with SWEETSPOT_PAGE set,
any report's index.html (e.g. the demo's: docs/reliability.md, "The report in a browser"):

    SWEETSPOT_PAGE=report/index.html python -m pytest -q -n 0 tests/test_report_page.py
"""

import html.parser
import os
import re

import pytest

from sweetspot.analysis import base

# page.STYLE: the body is at most 1200 px wide with 1em (16 px) of padding on each side
CONTENT_PX = {1400: 1200 - 32, 800: 800 - 32}
MIN_PX = 9


@pytest.fixture(scope="module")
def page(request, tmp_path_factory) -> str:
    if os.environ.get("SWEETSPOT_PAGE"):
        return os.environ["SWEETSPOT_PAGE"]
    from sweetspot.analysis import report

    out = tmp_path_factory.mktemp("page")
    report.report([request.getfixturevalue("metrics_run")], str(out), progress=lambda m: None)
    return str(out / "index.html")


class Reader(html.parser.HTMLParser):
    """The page as text chunks, each with the tags open around it and the section it is in (-1: before the first
    <h2>); plus the images and the <pre> blocks."""

    def __init__(self):
        super().__init__()
        self.open, self.chunks, self.images, self.pres, self.section = [], [], [], [], -1

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self.section += 1
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag not in ("br", "meta", "hr"):
            self.open.append(tag)
            self.open += [f".{dict(attrs)['class']}"] if dict(attrs).get("class") else []

    def handle_endtag(self, tag):  # a tag's class, if any, is the entry after it
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data):
        if data.strip() and "style" not in self.open:
            self.chunks.append((data, tuple(self.open), self.section))
        if "pre" in self.open:
            self.pres.append(data)


def read(page: str) -> Reader:
    r = Reader()
    r.feed(open(page).read())
    return r


def text(r: Reader, where=lambda tags, section: True) -> str:
    return " ".join(d for d, tags, s in r.chunks if where(tags, s))


def test_the_first_screen_says_what_was_run_and_gives_each_headline(page):
    r = read(page)
    top = text(r, lambda tags, s: s == -1 and "details" not in tags)
    for word in ("What was run", "networks", "steps", "training points", "commit", "grid"):
        assert word in top, word
    sections = r.section + 1
    assert sections >= 1 and len(re.findall(r"<li><a href='#s\d+'>", open(page).read())) == sections


def test_no_raw_markdown(page):
    visible = text(read(page))
    assert "`" not in visible, re.findall(r".{30}`[^`]*`.{0,30}", visible)[:5]


def test_no_nan_walls(page):
    visible = text(read(page))  # a value without one prints as "nan" (the docstrings' prose says "NaN")
    assert not re.search(r"\bnan\b", visible), re.findall(r".{40}\bnan\b.{0,20}", visible)[:5]


def test_the_run_block_appears_once(page):
    r = read(page)
    configs = [p for p in r.pres if '"target"' in p]  # a run's config, as JSON
    assert configs and len(configs) == len(set(configs)), f"{len(configs)} config blocks, {len(set(configs))} runs"
    assert len(re.findall("What was run", text(r))) == 1


def test_counts_read_as_counts(page):
    visible = text(read(page))
    bad = re.findall(r"\b\d\.\d+ of [\d,]+\b", visible)  # "1.000000 of 5040": a fraction read as a count
    bad += re.findall(r"\bof \d{4,}\b", visible)  # thousands without a separator
    bad += re.findall(r"\b1 (?:runs|networks|targets|cases|pairs|cells|seeds|rows|instances|figures|tables)\b", visible)
    bad += re.findall(r"\w+\(s\)", visible)
    assert not bad, bad[:10]


def test_titles_are_true_to_what_the_section_shows(page):
    r = read(page)
    for i in range(r.section + 1):
        title = text(r, lambda tags, s, i=i: s == i and "h2" in tags)
        body = text(r, lambda tags, s, i=i: s == i and "h2" not in tags).lower()
        if "no network is compositional" in body or "no network fits" in body:
            assert not re.search(r"\ba compositional\b", title), (title, body[:200])
        if "no network fits" in body:
            assert "fractured" not in title, title


def test_sections_open_with_a_headline_not_a_wall_of_prose(page):
    r = read(page)
    for i in range(r.section + 1):
        skip = {"details", "table", "figcaption", ".legend", ".note"}  # the note: figures-quick's banner
        prose = [d for d, tags, s in r.chunks if s == i and "p" in tags and not skip & set(tags)]
        assert len(" ".join(prose)) <= 600, f"section {i}: {len(' '.join(prose))} characters: {' '.join(prose)[:300]}"


def test_figure_text_is_legible_at_800_and_1400_px(page):
    from PIL import Image

    r = read(page)
    assert r.images
    for src in r.images:
        with Image.open(os.path.join(os.path.dirname(page), src)) as im:
            pt, width = float(im.text.get("MinFontPt", "nan")), im.size[0]
        for page_width, content in CONTENT_PX.items():
            px = pt / 72 * base.DPI * min(1.0, content / width)
            assert px >= MIN_PX, f"{src}: smallest text {px:.1f} px at a page width of {page_width}"


def test_empty_cells_have_a_legend(page):
    for table, after in re.findall(r"(<table.*?</table>)(?:</div>)?(.{0,30})", open(page).read(), re.S):
        if re.search(r"<td></td>", table):
            assert after.startswith("<p class='legend'>"), table[:200]
