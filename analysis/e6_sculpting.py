"""E6 Neural Sculpting protocol: runs sweetspot.analysis.e6_sculpting (docstring there).

Usage:
    python analysis/e6_sculpting.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/e6_sculpting.py runs/e6_* --out report
"""

from sweetspot.analysis import e6_sculpting

if __name__ == "__main__":
    e6_sculpting.main()
