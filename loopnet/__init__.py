"""loopnet: feed-forward neural networks as explicit loops, compiled by Numba.

Every operation -- dot products, bias adds, activations, deltas, gradient sums,
weight updates -- is a nested loop in ``loopnet.kernels`` that reads like the
math; ``loopnet.kernels_np`` is its NumPy twin. ``loopnet.Network`` trains
with either.
"""

from .network import Network, load

__version__ = "0.1.0"

__all__ = ["Network", "__version__", "load"]
