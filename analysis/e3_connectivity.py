"""E3 connectivity axis: runs sweetspot.analysis.e3_connectivity (docstring there).

Usage:
    python analysis/e3_connectivity.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/e3_connectivity.py runs/e3_* --out report
"""

from sweetspot.analysis import e3_connectivity

if __name__ == "__main__":
    e3_connectivity.main()
