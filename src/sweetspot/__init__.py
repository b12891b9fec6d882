"""sweetspot: regime maps of compositionality over depth x connectivity, in one jitted call.

Reference implementation of "Compositionality Emerges in a Narrow Depth-Connectivity Regime" (arXiv 2606.19941).
The contract for every definition is docs/method.md. Importing the package does not import jax, so the CLI can
set XLA_FLAGS first.
"""

__version__ = "0.1.0"
