"""E5 generalization to held-out combinations: runs sweetspot.analysis.e5_generalization (docstring there).

Usage:
    python analysis/e5_generalization.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/e5_generalization.py runs/e1 runs/e2_* runs/e3_* --out report
"""

from sweetspot.analysis import e5_generalization

if __name__ == "__main__":
    e5_generalization.main()
