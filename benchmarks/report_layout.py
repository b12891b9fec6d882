"""The report in a browser: whole-page screenshots of REPORT/index.html in headless Chromium at 1400 and 800 px,
and a check that nothing runs past the page and every figure's text is legible (docs/reliability.md, "The report
in a browser"). Not part of `make test` (it needs a browser); tests/test_report_page.py checks the page's text.

    apt-get update && apt-get install -y chromium        # Debian's package; `chromium --version` to check
    python benchmarks/report_layout.py report --out shots   # shots/report_1400.png, shots/report_800.png

For each width it loads the page in an iframe of that width (Chromium with --allow-file-access-from-files, so the
check can read the page), opens every collapsed block, and lists every element whose right edge passes the page's
width (a table outside its scrolling box, an image, a figure, a preformatted block, or the page itself), the page's
height, and per figure its width on screen; a figure's smallest text on screen is the size save_figure stored in
the PNG (MinFontPt, at sweetspot.analysis.base.DPI) scaled by that width. Then it screenshots the page, collapsed
blocks closed, at its full height. It prints one JSON line per width and exits 1 when anything runs past or a
figure's text is under MIN_PX.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHROMIUM = ("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars")  # fmt: skip
MIN_PX = 9  # the smallest figure text on screen allowed (px)

CHECK = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="file://%(page)s" style="width:%(width)dpx;height:900px;border:0"></iframe>
<script>
document.getElementById("f").onload = function () {
  var doc = this.contentDocument, w = doc.documentElement.clientWidth, past = [], imgs = [];
  var height = doc.documentElement.scrollHeight;
  doc.querySelectorAll("details").forEach(function (d) { d.open = true; });
  doc.querySelectorAll("body > *, .scroll, table, img, figure, pre").forEach(function (e) {
    var r = e.getBoundingClientRect(), box = e.closest(".scroll");
    if (box && box !== e) { return; }  // inside its own scrolling box
    if (r.right > w + 1) { past.push(e.tagName + (e.className ? "." + e.className : "") + " " + Math.round(r.right)); }
  });
  doc.querySelectorAll("img").forEach(function (e) {
    imgs.push([e.getAttribute("src"), e.naturalWidth, e.getBoundingClientRect().width]);
  });
  if (doc.documentElement.scrollWidth > w + 1) { past.push("page " + doc.documentElement.scrollWidth); }
  document.body.setAttribute("data-result", JSON.stringify({width: w, height: height, past: past, images: imgs}));
};
</script></body></html>"""


def _run(args: list[str], profile: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", *args], capture_output=True, timeout=180, **kw)


def check(page: str, width: int, profile: str) -> dict:
    """{"width", "height", "past": [elements whose right edge passes the page], "images": [[src, natural px,
    shown px]]} of page at `width` px, every collapsed block open."""
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = os.path.join(tmp, "check.html")
        with open(wrapper, "w") as f:
            f.write(CHECK % {"page": page, "width": width})
        flags = ["--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom", f"file://{wrapper}"]
        dom = _run(flags, profile, text=True).stdout
    found = re.search(r'data-result="([^"]*)"', dom)
    if not found:
        return {"width": width, "height": 0, "past": ["(the check did not run)"], "images": []}
    return json.loads(found.group(1).replace("&quot;", '"'))


def smallest_text(page: str, images: list) -> list[tuple[str, float]]:
    """[(figure, its smallest text on screen in px)] from each PNG's MinFontPt and its width on screen."""
    from PIL import Image

    from sweetspot.analysis.base import DPI

    out = []
    for src, natural, shown in images:
        with Image.open(os.path.join(os.path.dirname(page), src)) as im:
            pt = float(im.text.get("MinFontPt", "nan"))
        out.append((src, round(pt / 72 * DPI * min(1.0, shown / max(natural, 1)), 1)))
    return out


def screenshot(page: str, width: int, height: int, out: str, profile: str) -> str:
    path = os.path.join(out, f"report_{width}.png")
    _run([f"--window-size={width},{height}", f"--screenshot={path}", f"file://{page}"], profile, check=True)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", help="a report directory (python -m sweetspot report ... --out REPORT)")
    ap.add_argument("--out", default="shots", help="where the screenshots go (default %(default)s)")
    args = ap.parse_args(argv)
    if shutil.which("chromium") is None:
        raise SystemExit("error: no chromium on PATH: apt-get update && apt-get install -y chromium")
    page = os.path.abspath(os.path.join(args.report, "index.html"))
    if not os.path.isfile(page):
        raise SystemExit(f"error: {page}: no such file: make it with python -m sweetspot report RUN_DIR --out REPORT")
    os.makedirs(args.out, exist_ok=True)
    bad = False
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: nothing of a user's browser is read
        for width in (1400, 800):
            result = check(page, width, profile)
            sizes = smallest_text(page, result.pop("images"))
            result["smallest_figure_text_px"] = min((s for _, s in sizes), default=None)
            result["figures_under_min"] = [f"{src} {px}" for src, px in sizes if not px >= MIN_PX]
            result["screenshot"] = screenshot(page, width, result["height"], args.out, profile)
            bad |= bool(result["past"] or result["figures_under_min"])
            print(json.dumps(result))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
