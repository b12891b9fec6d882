"""T1 compositional sparsity: runs sweetspot.analysis.t1_sparsity (docstring there).

Usage:
    python analysis/t1_sparsity.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/t1_sparsity.py runs/t1_L2 runs/t1_L3 runs/t1_L4 runs/t1_L5 --out /tmp/t1
"""

from sweetspot.analysis import t1_sparsity

if __name__ == "__main__":
    t1_sparsity.main()
