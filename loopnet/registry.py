"""One registry pairs every loop kernel with its NumPy twin and its fast form.

The equivalence tests and the benchmarks both iterate :data:`KERNELS`: each
entry knows how to make a valid set of arguments for a given size, so a new
kernel is tested and benchmarked by adding one entry here. The fast form
(``fast.py``) is called with the plain kernel's arguments; for the whole-network
kernels it is the register-blocked path, forced even on tiny sizes.

Sizes are ``(N, I, J)``: N samples, I inputs, J units. Kernels of one layer use
them directly; kernels of a whole network build the network ``[I, J, K]`` with
``K = 2`` outputs (softmax needs at least two).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import fast as fk
from . import kernels as lk
from . import kernels_np as nk
from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .losses import LOSSES, OUTPUT_ACTIVATIONS

Variant = tuple


@dataclass(frozen=True)
class KernelPair:
    """A loop kernel, its NumPy twin, its fast form (None: the plain loop is used), and how to call them."""

    name: str
    tag: str  # equation tag in docs/design.md
    loops: Callable
    numpy: Callable
    outputs: tuple  # the arguments the kernel writes: an index, or (index, field) inside a named tuple
    make_args: Callable[[np.random.Generator, tuple[int, int, int], np.dtype, Variant], tuple]
    variants: tuple[Variant, ...] = field(default=((),))
    fast: Callable | None = None


# --- argument factories --------------------------------------------------------


def _blocked(fn: Callable) -> Callable:
    """A whole-network fast kernel forced onto the register-blocked path."""
    return functools.wraps(fn)(functools.partial(fn, path="blocked"))


def _act(code: int, z: np.ndarray) -> np.ndarray:
    a = np.empty_like(z)
    nk.activate_np(code, z, a)
    return a


def make_targets(rng, shape, loss_code, dtype):
    """(N, K) targets that suit the loss: one-hot rows for cross_entropy, [0, 1] for bce, counts (>= 0)
    for poisson."""
    N, K = shape
    if loss_code == LOSSES["cross_entropy"]:
        return np.eye(K, dtype=dtype)[rng.integers(0, K, N)]
    if loss_code == LOSSES["bce"]:
        return rng.random((N, K)).astype(dtype)
    if loss_code == LOSSES["poisson"]:
        return rng.poisson(1.5, (N, K)).astype(dtype)  # non-negative counts, zeros among them
    return rng.normal(size=(N, K)).astype(dtype)


def _normal(rng, shape, dtype, scale=1.0):
    return (scale * rng.normal(size=shape)).astype(dtype)


def _unwritten(shape, dtype):
    """An output array full of NaN, so a kernel that forgets an entry is caught."""
    return np.full(shape, np.nan, dtype=dtype)


def _dense_forward_args(rng, size, dtype, variant):
    N, I, J = size
    return (_normal(rng, (N, I), dtype), _normal(rng, (I, J), dtype), _normal(rng, J, dtype),
            _unwritten((N, J), dtype))  # fmt: skip


def _activate_args(rng, size, dtype, variant):
    (code,) = variant
    N, _, J = size
    z = _normal(rng, (N, J), dtype, scale=3.0)
    if code == ACTIVATIONS["exp"]:  # exp is inf above 709.78 (88.72 in float32): only its underflow side
        z.flat[::7] = -1000.0 * np.abs(z.flat[::7])
    else:
        z.flat[::7] *= 1000.0  # some |z| in the thousands: stability on the way
    return code, z, _unwritten((N, J), dtype)


def sample_weights(rng, N):
    """(N,) float64 weights: integers 0-3 with at least one positive, or all ones for N = 1 and 2."""
    if N <= 2:
        return np.ones(N)
    w = rng.integers(0, 4, N).astype(np.float64)
    w[rng.integers(N)] = 2.0
    return w


def _loss_args(rng, size, dtype, variant):
    loss_code, code = variant
    N, _, K = size
    z = _normal(rng, (N, K), dtype, scale=2.0)
    return loss_code, z, _act(code, z), make_targets(rng, (N, K), loss_code, dtype), sample_weights(rng, N)


def _output_delta_args(rng, size, dtype, variant):
    loss_code, code = variant
    N, _, K = size
    z = _normal(rng, (N, K), dtype, scale=2.0)
    return (loss_code, code, z, _act(code, z), make_targets(rng, (N, K), loss_code, dtype),
            sample_weights(rng, N), _unwritten((N, K), dtype))  # fmt: skip


def _backprop_delta_args(rng, size, dtype, variant):
    (code,) = variant
    N, I, J = size
    z_prev = _normal(rng, (N, I), dtype)
    return (_normal(rng, (N, J), dtype), _normal(rng, (I, J), dtype), code, z_prev,
            _act(code, z_prev), _unwritten((N, I), dtype))  # fmt: skip


def _weight_grad_args(rng, size, dtype, variant):
    N, I, J = size
    return _normal(rng, (N, I), dtype), _normal(rng, (N, J), dtype), _unwritten((I, J), dtype)


def _bias_grad_args(rng, size, dtype, variant):
    N, _, J = size
    return _normal(rng, (N, J), dtype), _unwritten(J, dtype)


def _sgd_args(rng, size, dtype, variant):
    _, I, J = size
    P = I * J + J
    return _normal(rng, P, dtype), _normal(rng, P, dtype), 0.1


def _decay(rng, P, dtype):
    """Weight decay per parameter: 0.01 for most, 0 for some (the biases of a network)."""
    return np.where(rng.random(P) < 0.3, 0.0, 0.01).astype(dtype)


def _momentum_args(rng, size, dtype, variant):
    nesterov, first = variant
    _, I, J = size
    P = I * J + J
    return (_normal(rng, P, dtype), _normal(rng, P, dtype), _decay(rng, P, dtype), _normal(rng, P, dtype),
            0.1, 0.9, 0.0 if nesterov else 0.1, nesterov, first)  # fmt: skip


def _adam_args(rng, size, dtype, variant):
    decoupled, t = variant
    _, I, J = size
    P = I * J + J
    v = np.abs(_normal(rng, P, dtype, scale=0.1))
    v[::5] = 0.0  # parameters whose gradient has always been 0: m = v = 0, the update must stay finite
    m = _normal(rng, P, dtype, scale=0.1)
    m[::5] = 0.0
    g = _normal(rng, P, dtype)
    g[::5] = 0.0
    return (_normal(rng, P, dtype), g, _decay(rng, P, dtype), m, v, t, 0.01, 0.9, 0.999, 1e-8, decoupled)


def _network(rng, size, dtype, variant):
    """Flat parameters and work buffers for the network [I, J, 2]."""
    hidden, output, loss = variant
    N, I, J = size
    sizes = np.array([I, J, 2], dtype=np.int64)
    acts = np.array([ACTIVATIONS[hidden], ACTIVATIONS[output]], dtype=np.int64)
    n_params = int(sum(sizes[q] * sizes[q + 1] + sizes[q + 1] for q in range(2)))
    params = _normal(rng, n_params, dtype, scale=0.5)
    if output == "exp":  # z and its gradient near 0: e^z of what 23 hidden units sum makes a step diverge
        params[I * J + J :] *= 0.1
    X = _normal(rng, (N, I), dtype, scale=0.5 if output == "exp" else 1.0)
    Y = make_targets(rng, (N, 2), LOSSES[loss], dtype)
    units = int(sizes[1:].sum())
    bufs = [_unwritten(N * units, dtype) for _ in range(3)]  # zbuf, abuf, dbuf
    return sizes, acts, LOSSES[loss], params, X, Y, bufs


def _l2_penalty_args(rng, size, dtype, variant):
    sizes, _, _, params, _, _, _ = _network(rng, size, dtype, ("relu", "identity", "mse"))
    return params, _normal(rng, params.shape, dtype), sizes, 0.3


def _forward_pass_args(rng, size, dtype, variant):
    sizes, acts, _, params, X, _, (zbuf, abuf, _) = _network(rng, size, dtype, variant)
    return params, sizes, acts, X, zbuf, abuf


def _backward_pass_args(rng, size, dtype, variant):
    sizes, acts, loss_code, params, X, Y, (zbuf, abuf, dbuf) = _network(rng, size, dtype, variant)
    nk.forward_pass_np(params, sizes, acts, X, zbuf, abuf)
    grads = _unwritten(params.shape, dtype)
    return params, grads, sizes, acts, loss_code, X, Y, sample_weights(rng, X.shape[0]), zbuf, abuf, dbuf


OPTIMIZERS = (
    (lk.PLAIN_SGD, {}),
    (lk.SGD, {"momentum": 0.9, "nesterov": True}),
    (lk.ADAM, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    (lk.ADAMW, {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
    (lk.SGD, {"momentum": 0.5, "dampening": 0.2}),
    (lk.ADAM, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-3, "eps_hat": True}),
)
"""The optimizer kinds train_epochs runs, with hyperparameters; variants take them in turn."""


def optim_tuple(kind, hyper, params, sizes, weight_decay=0.01):
    """A fresh kernels.Optim for ``params``: weight decay on the weights, zero state."""
    decay = np.zeros_like(params)
    for l in range(sizes.shape[0] - 1):
        W, _ = lk.param_views(decay, sizes, l)
        W[...] = weight_decay if kind != lk.PLAIN_SGD else 0.0
    h = {
        "momentum": 0.0,
        "dampening": 0.0,
        "nesterov": False,
        "beta1": 0.0,
        "beta2": 0.0,
        "eps": 0.0,
        "eps_hat": False,
        **hyper,
    }
    return lk.Optim(kind, **h, decay=decay, m=np.zeros_like(params), v=np.zeros_like(params),
                    step=np.zeros(1, dtype=np.int64))  # fmt: skip


def _train_epochs_args(rng, size, dtype, variant):
    """Three epochs of two uneven batches, with sample weights, validation rows and early stopping's watch."""
    *network, which = variant
    sizes, acts, loss_code, params, X, Y, (zbuf, abuf, dbuf) = _network(rng, size, dtype, tuple(network))
    N = X.shape[0]
    B = max(1, (N + 1) // 2)  # two batches when N > 1: the shuffle is exercised
    net = lk.Net(params, _unwritten(params.shape, dtype), sizes, acts, loss_code)
    kind, hyper = OPTIMIZERS[which]
    opt = optim_tuple(kind, hyper, params, sizes)
    Nv = 3
    Xv = _normal(rng, (Nv, X.shape[1]), dtype)
    Yv = make_targets(rng, (Nv, Y.shape[1]), loss_code, dtype)
    units = int(sizes[1:].sum())
    epochs = 3
    lrs = np.array([0.02, 0.01, 0.005]) / (N if loss_code == LOSSES["sse"] else 1)  # sse sums over rows
    Xb = np.empty(B * X.shape[1], dtype)
    run = lk.Run(
        X=X, Y=Y, sw=sample_weights(rng, N), Xv=Xv, Yv=Yv, swv=np.ones(Nv), lrs=lrs,
        batch_size=B, shuffle=True, order=np.arange(N, dtype=np.int64), rng_state=np.array([12345]),
        Xb=Xb, Yb=np.empty(B * Y.shape[1], dtype), wb=np.empty(B), zbuf=zbuf, abuf=abuf, dbuf=dbuf,
        zv=np.empty(Nv * units, dtype), av=np.empty(Nv * units, dtype),
        losses=_unwritten(epochs, np.float64), val_losses=_unwritten(epochs, np.float64),
        monitor=lk.MONITOR_VAL_LOSS, patience=5, min_delta=0.0, restore_best=True,
        best=np.array([np.inf]), waits=np.zeros(2, dtype=np.int64), best_params=params.copy(),
        last_params=params.copy(), last_m=opt.m.copy(), last_v=opt.v.copy(), last_step=opt.step.copy(),
        paramsT=np.empty_like(params), XbT=np.empty_like(Xb), aTbuf=np.empty_like(zbuf),
        dTbuf=np.empty_like(dbuf), l2=0.05, batch_losses=_unwritten(((N + B - 1) // B, 2), np.float64),
    )  # fmt: skip
    return net, opt, run, 0, epochs


# --- the variants ----------------------------------------------------------------

ALL_ACTIVATIONS = tuple((code,) for code in ACTIVATIONS.values())
HIDDEN = tuple((ACTIVATIONS[name],) for name in HIDDEN_ACTIVATIONS)
LOSS_PAIRS = tuple(
    (LOSSES[loss], ACTIVATIONS[act])
    for loss, allowed in OUTPUT_ACTIVATIONS.items()
    for act in (allowed or tuple(ACTIVATIONS))
)
"""Every (loss code, output activation code) pair the network accepts."""
NETWORKS = tuple(
    (hidden, act, loss)
    for hidden in HIDDEN_ACTIVATIONS
    for loss, allowed in OUTPUT_ACTIVATIONS.items()
    for act in (allowed or tuple(ACTIVATIONS))
)
"""Every (hidden activation, output activation, loss) a network accepts."""
TRAINING = tuple((*network, k % len(OPTIMIZERS)) for k, network in enumerate(NETWORKS))
"""Every network, each with one of the OPTIMIZERS in turn."""
MOMENTUM = ((False, True), (False, False), (True, True), (True, False))
"""(nesterov, first step)"""
ADAM = ((False, 1), (False, 7), (True, 1), (True, 7))
"""(decoupled, step t)"""

KERNELS: tuple[KernelPair, ...] = (
    KernelPair("dense_forward", "F1", lk.dense_forward, nk.dense_forward_np, (3,), _dense_forward_args,
               fast=fk.dense_forward),
    KernelPair("activate", "F2", lk.activate, nk.activate_np, (2,), _activate_args, ALL_ACTIVATIONS,
               fast=fk.activate),
    KernelPair("loss_value", "L", lk.loss_value, nk.loss_value_np, (), _loss_args, LOSS_PAIRS),
    KernelPair("output_delta", "B1", lk.output_delta, nk.output_delta_np, (6,), _output_delta_args,
               LOSS_PAIRS),
    KernelPair("backprop_delta", "B2", lk.backprop_delta, nk.backprop_delta_np, (5,), _backprop_delta_args,
               HIDDEN, fast=fk.backprop_delta),
    KernelPair("weight_grad", "B3", lk.weight_grad, nk.weight_grad_np, (2,), _weight_grad_args,
               fast=fk.weight_grad),
    KernelPair("bias_grad", "B4", lk.bias_grad, nk.bias_grad_np, (1,), _bias_grad_args, fast=fk.bias_grad),
    KernelPair("sgd_update", "U1", lk.sgd_update, nk.sgd_update_np, (0,), _sgd_args, fast=fk.sgd_update),
    KernelPair("momentum_update", "U2", lk.momentum_update, nk.momentum_update_np, (0, 3), _momentum_args,
               MOMENTUM, fast=fk.momentum_update),
    KernelPair("adam_update", "U3", lk.adam_update, nk.adam_update_np, (0, 3, 4), _adam_args, ADAM,
               fast=fk.adam_update),
    KernelPair("l2_penalty", "R", lk.l2_penalty, nk.l2_penalty_np, (1,), _l2_penalty_args),
    KernelPair("forward_pass", "F1-F2", lk.forward_pass, nk.forward_pass_np, (4, 5), _forward_pass_args,
               NETWORKS, fast=_blocked(fk.forward_pass)),
    KernelPair("backward_pass", "B1-B4", lk.backward_pass, nk.backward_pass_np, (1, 10), _backward_pass_args,
               NETWORKS, fast=_blocked(fk.backward_pass)),
    KernelPair("train_epochs", "F-B-U", lk.train_epochs, nk.train_epochs_np,
               ((0, "params"), (1, "m"), (1, "v"), (2, "losses"), (2, "val_losses"), (2, "batch_losses")),
               _train_epochs_args,
               TRAINING, fast=_blocked(fk.train_epochs)),
)  # fmt: skip

BY_NAME: dict[str, KernelPair] = {pair.name: pair for pair in KERNELS}
