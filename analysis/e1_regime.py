"""E1 regime map: runs sweetspot.analysis.e1_regime (docstring there).

Usage:
    python analysis/e1_regime.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/e1_regime.py runs/e1 --out report
"""

from sweetspot.analysis import e1_regime

if __name__ == "__main__":
    e1_regime.main()
