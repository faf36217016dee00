"""loopnet: feed-forward neural networks as explicit loops, compiled by Numba.

Every operation -- dot products, bias adds, activations, deltas, gradient sums,
weight updates -- is a nested loop in ``loopnet.kernels`` that reads like the
math; ``loopnet.kernels_np`` is its NumPy twin. ``loopnet.Network`` trains
with either.
"""

import importlib

from .network import Network, NonFiniteError, load
from .training import SGD, Adam, AdamW, DivergenceError, EarlyStopping, History, learning_rates

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "DivergenceError",
    "EarlyStopping",
    "History",
    "MLPClassifier",
    "MLPRegressor",
    "Network",
    "NonFiniteError",
    "__version__",
    "learning_rates",
    "load",
]

_LAZY_SUBMODULES = ("benchmarks", "cli", "datasets", "demos", "estimators", "registry")
"""Submodules not imported by ``import loopnet``, loaded on first use as ``loopnet.NAME``.

So ``import loopnet; loopnet.demos.run(...)`` works, and a plain ``import loopnet``
does not pay for them (``benchmarks`` in particular imports much more).
"""


_ESTIMATORS = ("MLPClassifier", "MLPRegressor")
"""Imported on first use: loopnet.estimators imports scikit-learn when it is installed (about 0.5 s)."""


def __getattr__(name: str):
    if name in _ESTIMATORS:
        from . import estimators

        return getattr(estimators, name)
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")  # also sets it as an attribute
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES, *_ESTIMATORS})
