"""Activation functions: the name -> code registry and their math, in one place.

Each activation ``f`` and its derivative ``f'`` sit together, twice: a scalar
form compiled by Numba (used by the loop kernels, one element at a time) and a
vectorised NumPy form (used by the twin). The derivative takes both the
pre-activation ``z`` and the activation ``a = f(z)``, and uses whichever makes
it cheap and exact -- ``z`` always means the pre-activation here.

============  ===========================================  ====================
name          f(z)                                         f'(z)
============  ===========================================  ====================
identity      z                                            1
sigmoid       1 / (1 + exp(-z))                            a (1 - a)
tanh          tanh(z)                                      1 - a^2
relu          max(z, 0)                                    1 if z > 0 else 0
leaky_relu    z if z > 0 else 0.01 z                       1 if z > 0 else 0.01
softmax       exp(z_j - m) / sum_k exp(z_k - m), m=max(z)  (Jacobian, B1 only)
exp           exp(z)                                       a
============  ===========================================  ====================

Softmax couples the units of a row, so it is only allowed on the output layer,
where the loss kernels handle its Jacobian. ``exp`` is output-only too: it is
the positive output of a Poisson regression (the ``poisson`` loss, as in
scikit-learn's ``MLPRegressor(loss="poisson")``), and its growth would blow up
any layer stacked on it. Every other form is stable for ``|z|`` up to 1e4 and
beyond: the sigmoid never evaluates ``exp`` of a positive number, softmax
subtracts the row maximum. ``exp`` itself is a plain ``exp``: above
z = 709.78 (88.72 in float32) it is ``inf``, without a warning in any form,
and training's divergence check then stops the fit.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, SOFTMAX, EXP = range(7)

ACTIVATIONS: dict[str, int] = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "softmax": SOFTMAX,
    "exp": EXP,
}
"""Activation name -> the integer code the kernels switch on."""

NAMES: dict[int, str] = {code: name for name, code in ACTIVATIONS.items()}

OUTPUT_ONLY: dict[str, str] = {
    "softmax": "it couples the units of a row",
    "exp": "it is the positive output of the poisson loss",
}
"""Activations allowed on the output layer only, and why."""

HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name not in OUTPUT_ONLY)
"""Activations allowed on hidden layers (softmax couples units; exp is for a Poisson output)."""

LEAKY_SLOPE = 0.01
"""Slope of leaky_relu for z <= 0."""


# --- scalar forms, compiled, one element at a time (loop kernels) -----------


@kernel
def activate_scalar(code, z):
    """f(z) for one element; every activation but softmax (done per row)."""
    if code == SIGMOID:
        if z >= 0:  # exp(-z) <= 1: cannot overflow
            return 1.0 / (1.0 + np.exp(-z))
        e = np.exp(z)  # z < 0: exp(z) < 1, and exp(-1000) is 0, not NaN
        return e / (1.0 + e)
    if code == TANH:
        return np.tanh(z)
    if code == RELU:
        return z if z > 0 else 0.0 * z
    if code == LEAKY_RELU:
        return z if z > 0 else LEAKY_SLOPE * z
    if code == EXP:
        return np.exp(z)  # inf above z = 709.78: the divergence check reports it
    return z  # identity


@kernel
def derivative_scalar(code, z, a):
    """f'(z) for one element, given z and a = f(z)."""
    if code == SIGMOID:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    if code == RELU:
        return 1.0 if z > 0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if z > 0 else LEAKY_SLOPE
    if code == EXP:
        return a
    return 1.0  # identity


# --- vector forms, NumPy (the twin) -----------------------------------------


def activate_vec(code, z, out):
    """f(z) element-wise into ``out`` (same shape as z); every activation but softmax."""
    if code == SIGMOID:
        e = np.exp(-np.abs(z))  # <= 1: cannot overflow
        np.divide(np.where(z >= 0, 1.0, e), 1.0 + e, out=out)
    elif code == TANH:
        np.tanh(z, out=out)
    elif code == RELU:
        np.multiply(z, z > 0, out=out)
    elif code == LEAKY_RELU:
        np.multiply(z, np.where(z > 0, 1.0, LEAKY_SLOPE), out=out)
    elif code == EXP:
        with np.errstate(over="ignore"):  # inf, silently, as in the loops: the divergence check reports it
            np.exp(z, out=out)
    else:
        out[...] = z


def derivative_vec(code, z, a):
    """f'(z) element-wise, given z and a = f(z); returns a new array."""
    if code == SIGMOID:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    if code == RELU:
        return (z > 0).astype(z.dtype)
    if code == LEAKY_RELU:
        return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)
    if code == EXP:
        return a.copy()
    return np.ones_like(z)


def code_of(name: str, *, hidden: bool) -> int:
    """The kernel code of activation ``name``, with a clear error for a bad name."""
    if not isinstance(name, str):
        raise TypeError(f"activation names must be strings, got {type(name).__name__} {name!r}")
    allowed = HIDDEN_ACTIVATIONS if hidden else tuple(ACTIVATIONS)
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(allowed)}")
    if hidden and name in OUTPUT_ONLY:
        raise ValueError(
            f"{name} is only allowed on the output layer ({OUTPUT_ONLY[name]}); "
            f"use one of {', '.join(HIDDEN_ACTIVATIONS)} for hidden layers"
        )
    return ACTIVATIONS[name]
