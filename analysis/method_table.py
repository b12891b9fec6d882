"""Method x sparsity table of a saved run: runs sweetspot.analysis.method_table (docstring there).

Usage:
    python analysis/method_table.py RUN_DIR [--metric NAME ...]
    python analysis/method_table.py runs/connectivity
"""

from sweetspot.analysis import method_table

if __name__ == "__main__":
    method_table.main()
