"""E4 fractured solutions: runs sweetspot.analysis.e4_fractured (docstring there).

Usage:
    python analysis/e4_fractured.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/e4_fractured.py runs/e1 --out report
"""

from sweetspot.analysis import e4_fractured

if __name__ == "__main__":
    e4_fractured.main()
