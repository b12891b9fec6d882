"""T2 volume ratio: runs sweetspot.analysis.t2_volume (docstring there).

Usage:
    python analysis/t2_volume.py RUN_DIR [RUN_DIR ...] --out DIR [--threshold double|additive]
    python analysis/t2_volume.py runs/t2 --out /tmp/t2
"""

from sweetspot.analysis import t2_volume

if __name__ == "__main__":
    t2_volume.main()
