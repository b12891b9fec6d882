"""sweetspot: regime maps of compositionality over depth x connectivity, in one jitted call.

Reference implementation of "Compositionality Emerges in a Narrow Depth-Connectivity Regime" (arXiv 2606.19941).
The contract for every definition is docs/method.md. Importing the package does not import jax, so the CLI can
set XLA_FLAGS first.

In a notebook (sweetspot.notebook; pandas: `pip install 'sweetspot[notebook]'`):
    run = sweetspot.load_run("runs/demo")       # results (DataFrame), config, meta
    net = run.network(depth=3, sparsity=0.8, seed=0, method="sp")
    run = sweetspot.run_sweep(cfg, "runs/mine")
"""

__version__ = "0.1.0"
__all__ = ["Network", "Run", "load_run", "run_sweep"]


def __getattr__(name):
    """sweetspot.load_run, run_sweep, Run and Network, imported (with jax) on first use only."""
    if name in __all__:
        from sweetspot import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'sweetspot' has no attribute {name!r}")
