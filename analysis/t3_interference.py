"""T3 feature interference bounds: runs sweetspot.analysis.t3_interference (docstring there).

Usage:
    python analysis/t3_interference.py RUN_DIR [RUN_DIR ...] --out DIR [--max-networks N]
    python analysis/t3_interference.py runs/e1 runs/e2_* --out /tmp/t3
"""

from sweetspot.analysis import t3_interference

if __name__ == "__main__":
    t3_interference.main()
