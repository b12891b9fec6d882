"""vulture's allow-list (`make lint`): names used only from outside src/, analysis/, sweeps/ and benchmarks/."""

from sweetspot import grid, metrics, theory
from sweetspot.analysis import recovery

grid.run_grid  # the Python API of README.md, "Using the engine from Python"
metrics.reference_compute  # the float64 reference of metrics.compute, checked against it by tests
theory.log_volume_ratio  # docs/theory.md's statements, each checked by tests/test_theory.py
theory.interference_bound
recovery.format_table  # the usage in sweetspot.analysis.recovery's docstring
