"""The report in a browser: screenshots of REPORT/index.html in headless Chromium at 1400 and 800 px, and a check
that nothing runs past the page (docs/reliability.md, "The report in a browser").

    apt-get update && apt-get install -y chromium        # Debian's package; `chromium --version` to check
    python benchmarks/report_layout.py report --out shots   # shots/report_1400.png, shots/report_800.png

For each width it loads the page in an iframe of that width (Chromium with --allow-file-access-from-files, so
the check can read the page) and lists every element whose right edge passes the page's width: a table outside
its scrolling box, an image, a figure, a preformatted block, or the page itself. It prints one JSON line per
width and exits 1 when anything runs past.
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

CHROMIUM = ("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars")

CHECK = """<!doctype html><html><body style="margin:0">
<iframe id="f" src="file://%(page)s" style="width:%(width)dpx;height:900px;border:0"></iframe>
<script>
document.getElementById("f").onload = function () {
  var doc = this.contentDocument, w = doc.documentElement.clientWidth, past = [];
  doc.querySelectorAll("body > *, .scroll, table, img, figure, pre").forEach(function (e) {
    var r = e.getBoundingClientRect(), box = e.closest(".scroll");
    if (box && box !== e) { return; }  // inside its own scrolling box
    if (r.right > w + 1) { past.push(e.tagName + (e.className ? "." + e.className : "") + " " + Math.round(r.right)); }
  });
  if (doc.documentElement.scrollWidth > w + 1) { past.push("page " + doc.documentElement.scrollWidth); }
  document.body.setAttribute("data-result", JSON.stringify({width: w, past: past}));
};
</script></body></html>"""


def check(page: str, width: int) -> dict:
    """{"width", "past": [elements whose right edge passes the page]} of page at `width` px."""
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = os.path.join(tmp, "check.html")
        with open(wrapper, "w") as f:
            f.write(CHECK % {"page": page, "width": width})
        cmd = [*CHROMIUM, "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom"]
        dom = subprocess.run([*cmd, f"file://{wrapper}"], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-result="([^"]*)"', dom)
    if not found:
        return {"width": width, "past": ["(the check did not run)"]}
    return json.loads(found.group(1).replace("&quot;", '"'))


def screenshot(page: str, width: int, out: str, height: int) -> str:
    path = os.path.join(out, f"report_{width}.png")
    cmd = [*CHROMIUM, f"--window-size={width},{height}", f"--screenshot={path}", f"file://{page}"]
    subprocess.run(cmd, capture_output=True, timeout=120, check=True)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", help="a report directory (python -m sweetspot report ... --out REPORT)")
    ap.add_argument("--out", default="shots", help="where the screenshots go (default %(default)s)")
    ap.add_argument("--height", type=int, default=4000, help="screenshot height in px (default %(default)s)")
    args = ap.parse_args(argv)
    if shutil.which("chromium") is None:
        raise SystemExit("error: no chromium on PATH: apt-get update && apt-get install -y chromium")
    page = os.path.abspath(os.path.join(args.report, "index.html"))
    if not os.path.isfile(page):
        raise SystemExit(f"error: {page}: no such file: make it with python -m sweetspot report RUN_DIR --out REPORT")
    os.makedirs(args.out, exist_ok=True)
    bad = False
    for width in (1400, 800):
        result = check(page, width)
        result["screenshot"] = screenshot(page, width, args.out, args.height)
        bad |= bool(result["past"])
        print(json.dumps(result))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
