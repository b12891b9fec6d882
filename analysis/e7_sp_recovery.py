"""E7 SP on judging targets: runs sweetspot.analysis.e7_sp_recovery (docstring there).

Usage:
    python analysis/e7_sp_recovery.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/e7_sp_recovery.py runs/e7_judge_* --out report
"""

from sweetspot.analysis import e7_sp_recovery

if __name__ == "__main__":
    e7_sp_recovery.main()
