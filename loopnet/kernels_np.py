"""The NumPy twin of every loop kernel in ``kernels.py``.

Same names plus ``_np``, same signatures, same order, same caller-owned output
arrays: put this file beside ``kernels.py`` and each vectorised line sits next
to the loops it replaces. The tests hold each pair equal to rounding; the
benchmarks race them. Matrix products go to BLAS through ``np.matmul(..., out=)``.

The twin is written lean, because ``loopnet bench`` races it against a minimal
hand-written NumPy trainer (``numpy-lean``, loopnet/contenders.py) as well as
the loops: in the epoch loop every view of the flat buffers is made once per
chunk, not once per batch, reductions call the ufunc's ``reduce`` (NumPy's
``np.sum`` adds microseconds of Python per call), and the updates work in place
with one scratch array instead of a temporary per operation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .activations import EXP, RELU, SIGMOID, SOFTMAX, activate_vec, derivative_vec
from .kernels import ADAMW, PLAIN_SGD, RUNNING, SGD, end_of_epoch, param_views, shuffle, work_view
from .losses import BCE, CROSS_ENTROPY, MSE, POISSON, SSE

# --- one layer: the equations ------------------------------------------------


def dense_forward_np(a_prev, W, b, z):
    """F1: z = a_prev @ W + b (twin of kernels.dense_forward)."""
    np.matmul(a_prev, W, out=z)
    z += b


def activate_np(code, z, a):
    """F2: a = f(z), softmax per row (twin of kernels.activate)."""
    if code == SOFTMAX:
        np.subtract(z, np.maximum.reduce(z, axis=1, keepdims=True), out=a)
        np.exp(a, out=a)
        a /= np.add.reduce(a, axis=1, keepdims=True)
    else:
        activate_vec(code, z, a)


def loss_value_np(loss_code, z, a, Y, sw):
    """The loss of one batch with sample weights sw, accumulated in float64 (twin of kernels.loss_value)."""
    K = a.shape[1]
    if loss_code == BCE:
        x = z.astype(np.float64, copy=False)
        terms = np.maximum(x, 0.0) - Y * x + np.log1p(np.exp(-np.abs(x)))
    elif loss_code == CROSS_ENTROPY:
        x = z.astype(np.float64, copy=False)
        m = np.maximum.reduce(x, axis=1, keepdims=True)
        terms = np.subtract(x, m)
        np.exp(terms, out=terms)
        lse = np.log(np.add.reduce(terms, axis=1, keepdims=True))
        lse += m
        np.subtract(lse, x, out=terms)
        # y (lse - z), and 0 where y = 0 even where lse - z overflows (z 1e308 below the row's max)
        terms = np.multiply(terms, Y, out=np.zeros_like(terms), where=Y != 0)
    elif loss_code == POISSON:
        y = Y.astype(np.float64, copy=False)
        terms = np.subtract(a, y, dtype=np.float64)  # a - y
        pos = y > 0  # y ln(y / a) = y (ln y - z) where y > 0, and 0 (not computed) where y = 0
        ylog = np.log(y, out=np.zeros_like(y), where=pos)
        np.subtract(ylog, z, out=ylog, where=pos)
        np.multiply(ylog, y, out=ylog, where=pos)
        terms += ylog
    else:
        terms = np.subtract(a, Y, dtype=np.float64)
        terms *= terms
    total = float(sw @ np.add.reduce(terms, axis=1))
    S = float(np.add.reduce(sw))
    if loss_code == SSE:
        return 0.5 * total
    if S == 0.0:
        return 0.0
    return total / S if loss_code == CROSS_ENTROPY else total / (S * K)


def output_delta_np(loss_code, code, z, a, Y, sw, delta):
    """B1: delta = dL/da * f'(z) at the output, row n scaled by its weight (twin of kernels.output_delta)."""
    K = a.shape[1]
    S = float(np.add.reduce(sw))
    if loss_code == SSE:
        c = sw
    elif S == 0.0:
        c = np.zeros_like(sw)
    else:
        c = sw * ({MSE: 2.0, BCE: 1.0, CROSS_ENTROPY: K, POISSON: 1.0}[loss_code] / (S * K))
    c = c[:, None]
    a_minus_y = (loss_code == BCE and code == SIGMOID) or (loss_code == POISSON and code == EXP)
    canonical = a_minus_y or (loss_code == CROSS_ENTROPY and code == SOFTMAX)
    if canonical:
        # the scale in the network's dtype: a float32 array times a float64 one is a slow mixed loop
        c = c.astype(a.dtype, copy=False)
    if a_minus_y:
        np.subtract(a, Y, out=delta)
        delta *= c  # (a - y) c
    elif loss_code == CROSS_ENTROPY and code == SOFTMAX:
        np.multiply(a, np.add.reduce(Y, axis=1, keepdims=True), out=delta)
        delta -= Y
        delta *= c  # (a s - y) c, s = sum_k y
    else:
        # g in float64 whatever the dtype, as the loop computes it: the softmax
        # Jacobian below subtracts nearly equal numbers
        g = (a - Y) * c
        if code == SOFTMAX:
            np.multiply(a, g - (g * a).sum(axis=1, keepdims=True), out=delta)
        else:
            np.multiply(g, derivative_vec(code, z, a), out=delta)


def backprop_delta_np(delta, W, code, z_prev, a_prev, delta_prev):
    """B2: delta_prev = (delta @ W.T) * f'(z_prev) (twin of kernels.backprop_delta)."""
    np.matmul(delta, W.T, out=delta_prev)
    if code == RELU:  # f' is 1 where z > 0, else 0: multiplying by the comparison skips building f'
        np.multiply(delta_prev, z_prev > 0, out=delta_prev)
        return
    delta_prev *= derivative_vec(code, z_prev, a_prev)


def weight_grad_np(a_prev, delta, dW):
    """B3: dW = a_prev.T @ delta (twin of kernels.weight_grad)."""
    np.matmul(a_prev.T, delta, out=dW)


def bias_grad_np(delta, db):
    """B4: db = delta summed over samples (twin of kernels.bias_grad)."""
    np.add.reduce(delta, axis=0, out=db)


def sgd_update_np(params, grads, lr, *, scratch=None):
    """U1: params -= lr * grads, all layers at once (twin of kernels.sgd_update).

    ``scratch``, an array like params, saves allocating the product (train_epochs_np passes one).
    """
    s = np.multiply(grads, lr, out=scratch)
    params -= s


def momentum_update_np(params, grads, decay, velocity, lr, momentum, dampening, nesterov, first):
    """U2: torch.optim.SGD's rule with weight decay, momentum, Nesterov (twin of kernels.momentum_update)."""
    g = grads + decay * params
    if momentum != 0.0:
        if first:
            velocity[...] = g
        else:
            velocity[...] = momentum * velocity + (1.0 - dampening) * g
        g = g + momentum * velocity if nesterov else velocity
    params -= lr * g


def adam_update_np(params, grads, decay, m, v, t, lr, beta1, beta2, eps, decoupled, *, scratch=None):
    """U3: torch.optim.Adam's rule, AdamW's when decoupled (twin of kernels.adam_update).

    In place, each line in the loop's order of operations. ``scratch``, two arrays like
    params, saves allocating the two temporaries (train_epochs_np passes them).
    """
    g_buf, s_buf = (None, None) if scratch is None else scratch
    step_size = lr / (1.0 - beta1**t)
    root_c2 = math.sqrt(1.0 - beta2**t)
    if decoupled:
        params *= 1.0 - lr * decay
        g = grads
    else:
        g = np.multiply(decay, params, out=g_buf)
        g += grads  # g = grads + decay * params
    s = np.subtract(g, m, out=s_buf)
    s *= 1.0 - beta1
    m += s  # m += (1 - beta1) (g - m)
    v *= beta2
    np.multiply(g, 1.0 - beta2, out=s)
    s *= g
    v += s  # v = beta2 v + (1 - beta2) g g
    np.sqrt(v, out=s)
    s /= root_c2
    s += eps
    np.divide(m, s, out=s)
    s *= step_size
    params -= s  # params -= step_size (m / (sqrt(v) / sqrt(c2) + eps))


# --- the whole network -------------------------------------------------------
# param_views, work_view and shuffle are shared with kernels.py: they move
# data, they do no math, and sharing them makes both backends visit the same
# minibatches. So is end_of_epoch, the divergence check and early stopping's
# bookkeeping.


class Layer(NamedTuple):
    """Layer l's views for a batch of N rows: its parameters, gradients and work arrays."""

    code: int  # activation code, a Python int
    W: np.ndarray  # (I, J)
    b: np.ndarray  # (J,)
    dW: np.ndarray | None  # (I, J)
    db: np.ndarray | None  # (J,)
    z: np.ndarray  # (N, J)
    a: np.ndarray  # (N, J)
    delta: np.ndarray | None  # (N, J)


def layer_views(params, grads, sizes, acts, N, zbuf, abuf, dbuf):
    """Every layer's :class:`Layer` views of the flat arrays for N rows (grads and dbuf may be None)."""
    layers = []
    for l in range(sizes.shape[0] - 1):
        W, b = param_views(params, sizes, l)
        dW, db = (None, None) if grads is None else param_views(grads, sizes, l)
        delta = None if dbuf is None else work_view(dbuf, sizes, l, N)
        layers.append(Layer(int(acts[l]), W, b, dW, db, work_view(zbuf, sizes, l, N),
                            work_view(abuf, sizes, l, N), delta))  # fmt: skip
    return layers


def forward_layers_np(layers, X):
    """F1 then F2 for every layer, on views made by :func:`layer_views`."""
    a_prev = X
    for layer in layers:
        dense_forward_np(a_prev, layer.W, layer.b, layer.z)
        activate_np(layer.code, layer.z, layer.a)
        a_prev = layer.a


def backward_layers_np(layers, loss_code, X, Y, sw):
    """B1, then B3, B4, B2 layer by layer, on views made by :func:`layer_views`."""
    out = layers[-1]
    output_delta_np(loss_code, out.code, out.z, out.a, Y, sw, out.delta)
    for l in range(len(layers) - 1, -1, -1):
        layer = layers[l]
        a_prev = X if l == 0 else layers[l - 1].a
        weight_grad_np(a_prev, layer.delta, layer.dW)
        bias_grad_np(layer.delta, layer.db)
        if l > 0:
            prev = layers[l - 1]
            backprop_delta_np(layer.delta, layer.W, prev.code, prev.z, prev.a, prev.delta)


def forward_pass_np(params, sizes, acts, X, zbuf, abuf):
    """F1 then F2 for every layer (twin of kernels.forward_pass)."""
    forward_layers_np(layer_views(params, None, sizes, acts, X.shape[0], zbuf, abuf, None), X)


def backward_pass_np(params, grads, sizes, acts, loss_code, X, Y, sw, zbuf, abuf, dbuf):
    """B1, then B3, B4, B2 layer by layer (twin of kernels.backward_pass)."""
    layers = layer_views(params, grads, sizes, acts, X.shape[0], zbuf, abuf, dbuf)
    backward_layers_np(layers, int(loss_code), X, Y, sw)


def update_np(opt, params, grads, lr, *, scratch=None):
    """One optimizer step: U1, U2 or U3 (twin of kernels.update).

    The learning rate and the step count go on as Python numbers: a NumPy float64
    scalar would turn every float32 operation of the update into a slow mixed loop.
    ``scratch``: None, or two arrays like params that U1 and U3 use for their temporaries.
    """
    opt.step[0] += 1
    lr = float(lr)
    if opt.kind == PLAIN_SGD:
        sgd_update_np(params, grads, lr, scratch=None if scratch is None else scratch[0])
    elif opt.kind == SGD:
        momentum_update_np(params, grads, opt.decay, opt.m, lr, opt.momentum, opt.dampening, opt.nesterov,
                           opt.step[0] == 1)  # fmt: skip
    else:
        t = int(opt.step[0])
        eps = opt.eps / math.sqrt(1.0 - opt.beta2**t) if opt.eps_hat else opt.eps  # kernels.adam_eps
        adam_update_np(params, grads, opt.decay, opt.m, opt.v, t, lr, opt.beta1, opt.beta2, eps,
                       opt.kind == ADAMW, scratch=scratch)  # fmt: skip


def l2_penalty_np(params, grads, sizes, c):
    """R: dW += c * W for every layer's weights; returns sum W**2 (twin of kernels.l2_penalty)."""
    total = 0.0
    for l in range(sizes.shape[0] - 1):
        W, _ = param_views(params, sizes, l)
        dW, _ = param_views(grads, sizes, l)
        w = W.reshape(-1)
        total += float(np.dot(w.astype(np.float64, copy=False), w))
        dW += c * W
    return total


def validation_loss_np(net, run):
    """The loss on the validation rows (twin of kernels.validation_loss)."""
    Nv = run.Xv.shape[0]
    L = net.sizes.shape[0] - 1
    forward_pass_np(net.params, net.sizes, net.acts, run.Xv, run.zv, run.av)
    return loss_value_np(net.loss_code, work_view(run.zv, net.sizes, L - 1, Nv),
                         work_view(run.av, net.sizes, L - 1, Nv), run.Yv, run.swv)  # fmt: skip


def train_epochs_np(net, opt, run, first, count):
    """A chunk of epochs, one Python iteration per batch (twin of kernels.train_epochs).

    The views of a batch (its rows, and every layer's parameters, gradients and work
    arrays) are made once per chunk for the two batch sizes an epoch has: B, and the
    rows of the last batch. One batch holding every row is never shuffled, so it reads
    X, Y and sw where they are instead of gathering a copy.
    """
    N, n0 = run.X.shape
    nL = run.Y.shape[1]
    B = min(run.batch_size, N)
    loss_code = int(net.loss_code)
    total_weight = float(np.add.reduce(run.sw))
    # without sample weights (all ones) every batch's weights are ones: set once, never gathered
    unweighted = bool(np.all(run.sw == 1.0))
    if unweighted:
        run.wb[:] = 1.0
    batches = {}
    for m in {B, N - (N - 1) // B * B}:  # a full batch and the last one (the same when B divides N)
        Xm = run.X if m == N else run.Xb[: m * n0].reshape((m, n0))
        Ym = run.Y if m == N else run.Yb[: m * nL].reshape((m, nL))
        wm = run.sw if m == N else run.wb[:m]
        layers = layer_views(net.params, net.grads, net.sizes, net.acts, m, run.zbuf, run.abuf, run.dbuf)
        batches[m] = (Xm, Ym, wm, layers)
    scratch = (np.empty_like(net.params), np.empty_like(net.params))  # the update's temporaries
    for e in range(first, first + count):
        if run.shuffle and B < N:
            shuffle(run.order, run.rng_state)
        total = 0.0
        for start in range(0, N, B):
            m = min(B, N - start)
            Xm, Ym, wm, layers = batches[m]
            if m < N:
                # the rows of a permutation are in range: mode="clip" skips the bounds-checked
                # temporary copy that take's default mode makes when given out=
                rows = run.order[start : start + m]
                run.X.take(rows, axis=0, out=Xm, mode="clip")
                run.Y.take(rows, axis=0, out=Ym, mode="clip")
                if not unweighted:
                    run.sw.take(rows, out=wm, mode="clip")
            forward_layers_np(layers, Xm)
            batch_loss = loss_value_np(loss_code, layers[-1].z, layers[-1].a, Ym, wm)
            batch_weight = float(m) if unweighted else float(np.add.reduce(wm))
            share = 1.0 if loss_code == SSE else batch_weight / total_weight
            total += batch_loss * share
            backward_layers_np(layers, loss_code, Xm, Ym, wm)
            penalty = 0.0
            if run.l2 > 0.0 and batch_weight > 0.0:
                c = run.l2 / batch_weight
                penalty = 0.5 * c * l2_penalty_np(net.params, net.grads, net.sizes, c)
                total += penalty * share
            if run.batch_losses.shape[0] > 0:
                run.batch_losses[start // B] = batch_loss, penalty
            update_np(opt, net.params, net.grads, run.lrs[e], scratch=scratch)
        run.losses[e] = total
        if run.Xv.shape[0] > 0:
            run.val_losses[e] = validation_loss_np(net, run)
        status = end_of_epoch(net, opt, run, e)
        if status != RUNNING:
            return e - first + 1, status
    return count, RUNNING


__all__ = [
    "activate_np",
    "adam_update_np",
    "backprop_delta_np",
    "backward_layers_np",
    "backward_pass_np",
    "bias_grad_np",
    "dense_forward_np",
    "forward_layers_np",
    "forward_pass_np",
    "l2_penalty_np",
    "layer_views",
    "loss_value_np",
    "momentum_update_np",
    "output_delta_np",
    "sgd_update_np",
    "train_epochs_np",
    "update_np",
    "validation_loss_np",
    "weight_grad_np",
]
