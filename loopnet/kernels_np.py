"""The NumPy twin of every loop kernel in ``kernels.py``.

Same names plus ``_np``, same signatures, same order, same caller-owned output
arrays: put this file beside ``kernels.py`` and each vectorised line sits next
to the loops it replaces. The tests hold each pair equal to rounding; the
benchmarks race them. Matrix products go to BLAS through ``@``.
"""

from __future__ import annotations

import numpy as np

from .activations import SIGMOID, SOFTMAX, activate_vec, derivative_vec
from .kernels import param_views, shuffle, work_view
from .losses import BCE, CROSS_ENTROPY, SSE

# --- one layer: the equations ------------------------------------------------


def dense_forward_np(a_prev, W, b, z):
    """F1: z = a_prev @ W + b (twin of kernels.dense_forward)."""
    np.matmul(a_prev, W, out=z)
    z += b


def activate_np(code, z, a):
    """F2: a = f(z), softmax per row (twin of kernels.activate)."""
    if code == SOFTMAX:
        np.subtract(z, z.max(axis=1, keepdims=True), out=a)
        np.exp(a, out=a)
        a /= a.sum(axis=1, keepdims=True)
    else:
        activate_vec(code, z, a)


def loss_value_np(loss_code, z, a, Y):
    """The loss of one batch, accumulated in float64 (twin of kernels.loss_value)."""
    N, K = a.shape
    if loss_code == BCE:
        x = z.astype(np.float64)
        return float(np.sum(np.maximum(x, 0.0) - Y * x + np.log1p(np.exp(-np.abs(x)))) / (N * K))
    if loss_code == CROSS_ENTROPY:
        x = z.astype(np.float64)
        m = x.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        return float(np.sum(Y * (lse - x)) / N)
    sq = float(np.sum((a.astype(np.float64) - Y) ** 2))
    return 0.5 * sq if loss_code == SSE else sq / (N * K)


def output_delta_np(loss_code, code, z, a, Y, delta):
    """B1: delta = dL/da * f'(z) at the output (twin of kernels.output_delta)."""
    N, K = a.shape
    if loss_code == BCE and code == SIGMOID:
        np.multiply(a - Y, 1.0 / (N * K), out=delta)
    elif loss_code == CROSS_ENTROPY and code == SOFTMAX:
        np.multiply(a * Y.sum(axis=1, keepdims=True) - Y, 1.0 / N, out=delta)
    else:
        # g in float64 whatever the dtype, as the loop computes it: the softmax
        # Jacobian below subtracts nearly equal numbers
        g = (a - Y) * np.float64(1.0 if loss_code == SSE else 2.0 / (N * K))
        if code == SOFTMAX:
            np.multiply(a, g - (g * a).sum(axis=1, keepdims=True), out=delta)
        else:
            np.multiply(g, derivative_vec(code, z, a), out=delta)


def backprop_delta_np(delta, W, code, z_prev, a_prev, delta_prev):
    """B2: delta_prev = (delta @ W.T) * f'(z_prev) (twin of kernels.backprop_delta)."""
    np.matmul(delta, W.T, out=delta_prev)
    delta_prev *= derivative_vec(code, z_prev, a_prev)


def weight_grad_np(a_prev, delta, dW):
    """B3: dW = a_prev.T @ delta (twin of kernels.weight_grad)."""
    np.matmul(a_prev.T, delta, out=dW)


def bias_grad_np(delta, db):
    """B4: db = delta summed over samples (twin of kernels.bias_grad)."""
    np.sum(delta, axis=0, out=db)


def sgd_update_np(params, grads, lr):
    """U1: params -= lr * grads, all layers at once (twin of kernels.sgd_update)."""
    params -= lr * grads


# --- the whole network -------------------------------------------------------
# param_views, work_view and shuffle are shared with kernels.py:
# they move data, they do no math, and sharing them makes both backends visit
# the same minibatches.


def forward_pass_np(params, sizes, acts, X, zbuf, abuf):
    """F1 then F2 for every layer (twin of kernels.forward_pass)."""
    N = X.shape[0]
    for l in range(sizes.shape[0] - 1):
        W, b = param_views(params, sizes, l)
        z = work_view(zbuf, sizes, l, N)
        a = work_view(abuf, sizes, l, N)
        a_prev = X if l == 0 else work_view(abuf, sizes, l - 1, N)
        dense_forward_np(a_prev, W, b, z)
        activate_np(acts[l], z, a)


def backward_pass_np(params, grads, sizes, acts, loss_code, X, Y, zbuf, abuf, dbuf):
    """B1, then B3, B4, B2 layer by layer (twin of kernels.backward_pass)."""
    N = X.shape[0]
    L = sizes.shape[0] - 1
    output_delta_np(
        loss_code,
        acts[L - 1],
        work_view(zbuf, sizes, L - 1, N),
        work_view(abuf, sizes, L - 1, N),
        Y,
        work_view(dbuf, sizes, L - 1, N),
    )
    for l in range(L - 1, -1, -1):
        delta = work_view(dbuf, sizes, l, N)
        dW, db = param_views(grads, sizes, l)
        a_prev = X if l == 0 else work_view(abuf, sizes, l - 1, N)
        weight_grad_np(a_prev, delta, dW)
        bias_grad_np(delta, db)
        if l > 0:
            W, _ = param_views(params, sizes, l)
            backprop_delta_np(
                delta,
                W,
                acts[l - 1],
                work_view(zbuf, sizes, l - 1, N),
                a_prev,
                work_view(dbuf, sizes, l - 1, N),
            )


def train_sgd_np(params, grads, sizes, acts, loss_code, X, Y, lr, batch_size, rng_state, order,
                 Xb, Yb, zbuf, abuf, dbuf, losses):  # fmt: skip
    """Minibatch gradient descent, one Python iteration per batch (twin of kernels.train_sgd)."""
    N, n0 = X.shape
    nL = Y.shape[1]
    L = sizes.shape[0] - 1
    B = min(batch_size, N)
    summed = loss_code == SSE
    for e in range(losses.shape[0]):
        if B < N:
            shuffle(order, rng_state)
        total = 0.0
        for start in range(0, N, B):
            m = min(B, N - start)
            Xm = Xb[: m * n0].reshape((m, n0))
            Ym = Yb[: m * nL].reshape((m, nL))
            np.take(X, order[start : start + m], axis=0, out=Xm)
            np.take(Y, order[start : start + m], axis=0, out=Ym)
            forward_pass_np(params, sizes, acts, Xm, zbuf, abuf)
            batch_loss = loss_value_np(
                loss_code, work_view(zbuf, sizes, L - 1, m), work_view(abuf, sizes, L - 1, m), Ym
            )
            total += batch_loss if summed else batch_loss * (m / N)
            backward_pass_np(params, grads, sizes, acts, loss_code, Xm, Ym, zbuf, abuf, dbuf)
            sgd_update_np(params, grads, lr)
        losses[e] = total


__all__ = [
    "activate_np",
    "backprop_delta_np",
    "backward_pass_np",
    "bias_grad_np",
    "dense_forward_np",
    "forward_pass_np",
    "loss_value_np",
    "output_delta_np",
    "sgd_update_np",
    "train_sgd_np",
    "weight_grad_np",
]
