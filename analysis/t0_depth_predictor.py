"""Depth predictor against the E2 peaks: runs sweetspot.analysis.t0_depth_predictor (docstring there).

Usage:
    python analysis/t0_depth_predictor.py RUN_DIR [RUN_DIR ...] --out DIR
    python analysis/t0_depth_predictor.py runs/e2_* --out report
"""

from sweetspot.analysis import t0_depth_predictor

if __name__ == "__main__":
    t0_depth_predictor.main()
