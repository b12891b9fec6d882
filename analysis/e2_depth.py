"""E2 depth axis: runs sweetspot.analysis.e2_depth (docstring there).

Usage:
    python analysis/e2_depth.py RUN_DIR [RUN_DIR ...] --out DIR | --peak RUN_DIR [RUN_DIR ...]
    python analysis/e2_depth.py --peak runs/e2_tree_L3      (prints the peak depth: E3 runs there)
"""

from sweetspot.analysis import e2_depth

if __name__ == "__main__":
    e2_depth.main()
