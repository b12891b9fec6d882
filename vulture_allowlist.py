"""vulture's allow-list (`make lint`): names used only from outside src/, analysis/, sweeps/ and benchmarks/."""

import sweetspot
from sweetspot import grid, metrics, notebook, theory
from sweetspot.analysis import recovery

grid.run_grid  # the Python API of README.md, "Using the engine from Python"
metrics.reference_compute  # the float64 reference of metrics.compute, checked against it by tests
metrics.reference_subspace_score  # the float64 reference of das.score, checked against it by tests/test_das.py
sweetspot.__getattr__  # the module's lazy attributes (load_run, run_sweep): Python calls it
notebook.Run.network  # the notebook API of README.md, "In a notebook"
theory.log_volume_ratio  # docs/theory.md's statements, each checked by tests/test_theory.py
theory.interference_bound
recovery.format_table  # the usage in sweetspot.analysis.recovery's docstring
