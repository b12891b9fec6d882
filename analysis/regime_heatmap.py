"""Regime heatmaps of a saved run: runs sweetspot.analysis.regime_heatmap (docstring there).

Usage:
    python analysis/regime_heatmap.py RUN_DIR [--out DIR]
    python analysis/regime_heatmap.py runs/demo
"""

from sweetspot.analysis import regime_heatmap

if __name__ == "__main__":
    regime_heatmap.main()
