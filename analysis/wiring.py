"""Wiring diagrams of two saved networks: runs sweetspot.analysis.wiring (docstring there).

Usage:
    python analysis/wiring.py RUN_DIR [--a SPEC --b SPEC] [--out DIR]
    python analysis/wiring.py runs/e1 --a method=sp,depth=3,sparsity=0.8,seed=0 --b 17
"""

from sweetspot.analysis import wiring

if __name__ == "__main__":
    wiring.main()
