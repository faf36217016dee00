"""The NumPy twin of every loop kernel in ``kernels.py``.

Same names plus ``_np``, same signatures, same order, same caller-owned output
arrays: put this file beside ``kernels.py`` and each vectorised line sits next
to the loops it replaces. The tests hold each pair equal to rounding; the
benchmarks race them. Matrix products go to BLAS through ``@``.
"""

from __future__ import annotations

import numpy as np

from .activations import SIGMOID, SOFTMAX, activate_vec, derivative_vec
from .kernels import ADAMW, PLAIN_SGD, RUNNING, SGD, end_of_epoch, param_views, shuffle, work_view
from .losses import BCE, CROSS_ENTROPY, MSE, SSE

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


def loss_value_np(loss_code, z, a, Y, sw):
    """The loss of one batch with sample weights sw, accumulated in float64 (twin of kernels.loss_value)."""
    K = a.shape[1]
    x = z.astype(np.float64)
    if loss_code == BCE:
        rows = np.sum(np.maximum(x, 0.0) - Y * x + np.log1p(np.exp(-np.abs(x))), axis=1)
    elif loss_code == CROSS_ENTROPY:
        m = x.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        rows = np.sum(Y * (lse - x), axis=1)
    else:
        rows = np.sum((a.astype(np.float64) - Y) ** 2, axis=1)
    total = float(sw @ rows)
    S = float(np.sum(sw))
    if loss_code == SSE:
        return 0.5 * total
    if S == 0.0:
        return 0.0
    return total / S if loss_code == CROSS_ENTROPY else total / (S * K)


def output_delta_np(loss_code, code, z, a, Y, sw, delta):
    """B1: delta = dL/da * f'(z) at the output, row n scaled by its weight (twin of kernels.output_delta)."""
    K = a.shape[1]
    S = float(np.sum(sw))
    if loss_code == SSE:
        c = sw
    elif S == 0.0:
        c = np.zeros_like(sw)
    else:
        c = sw * ({MSE: 2.0, BCE: 1.0, CROSS_ENTROPY: K}[loss_code] / (S * K))
    c = c[:, None]
    if loss_code == BCE and code == SIGMOID:
        np.multiply(a - Y, c, out=delta)
    elif loss_code == CROSS_ENTROPY and code == SOFTMAX:
        np.multiply(a * Y.sum(axis=1, keepdims=True) - Y, c, out=delta)
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


def adam_update_np(params, grads, decay, m, v, t, lr, beta1, beta2, eps, decoupled):
    """U3: torch.optim.Adam's rule, AdamW's when decoupled (twin of kernels.adam_update)."""
    step_size = lr / (1.0 - beta1**t)
    root_c2 = np.sqrt(1.0 - beta2**t)
    if decoupled:
        params *= 1.0 - lr * decay
        g = grads
    else:
        g = grads + decay * params
    m += (1.0 - beta1) * (g - m)
    v[...] = beta2 * v + (1.0 - beta2) * g * g
    params -= step_size * (m / (np.sqrt(v) / root_c2 + eps))


# --- the whole network -------------------------------------------------------
# param_views, work_view and shuffle are shared with kernels.py: they move
# data, they do no math, and sharing them makes both backends visit the same
# minibatches. So is end_of_epoch, the divergence check and early stopping's
# bookkeeping.


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


def backward_pass_np(params, grads, sizes, acts, loss_code, X, Y, sw, zbuf, abuf, dbuf):
    """B1, then B3, B4, B2 layer by layer (twin of kernels.backward_pass)."""
    N = X.shape[0]
    L = sizes.shape[0] - 1
    output_delta_np(
        loss_code,
        acts[L - 1],
        work_view(zbuf, sizes, L - 1, N),
        work_view(abuf, sizes, L - 1, N),
        Y,
        sw,
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


def update_np(opt, params, grads, lr):
    """One optimizer step: U1, U2 or U3 (twin of kernels.update)."""
    opt.step[0] += 1
    if opt.kind == PLAIN_SGD:
        sgd_update_np(params, grads, lr)
    elif opt.kind == SGD:
        momentum_update_np(params, grads, opt.decay, opt.m, lr, opt.momentum, opt.dampening, opt.nesterov,
                           opt.step[0] == 1)  # fmt: skip
    else:
        adam_update_np(params, grads, opt.decay, opt.m, opt.v, opt.step[0], lr, opt.beta1, opt.beta2,
                       opt.eps, opt.kind == ADAMW)  # fmt: skip


def validation_loss_np(net, run):
    """The loss on the validation rows (twin of kernels.validation_loss)."""
    Nv = run.Xv.shape[0]
    L = net.sizes.shape[0] - 1
    forward_pass_np(net.params, net.sizes, net.acts, run.Xv, run.zv, run.av)
    return loss_value_np(net.loss_code, work_view(run.zv, net.sizes, L - 1, Nv),
                         work_view(run.av, net.sizes, L - 1, Nv), run.Yv, run.swv)  # fmt: skip


def train_epochs_np(net, opt, run, first, count):
    """A chunk of epochs, one Python iteration per batch (twin of kernels.train_epochs)."""
    N, n0 = run.X.shape
    nL = run.Y.shape[1]
    L = net.sizes.shape[0] - 1
    B = min(run.batch_size, N)
    total_weight = float(np.sum(run.sw))
    for e in range(first, first + count):
        if run.shuffle and B < N:
            shuffle(run.order, run.rng_state)
        total = 0.0
        for start in range(0, N, B):
            m = min(B, N - start)
            rows = run.order[start : start + m]
            Xm = run.Xb[: m * n0].reshape((m, n0))
            Ym = run.Yb[: m * nL].reshape((m, nL))
            wm = run.wb[:m]
            np.take(run.X, rows, axis=0, out=Xm)
            np.take(run.Y, rows, axis=0, out=Ym)
            np.take(run.sw, rows, out=wm)
            forward_pass_np(net.params, net.sizes, net.acts, Xm, run.zbuf, run.abuf)
            batch_loss = loss_value_np(net.loss_code, work_view(run.zbuf, net.sizes, L - 1, m),
                                       work_view(run.abuf, net.sizes, L - 1, m), Ym, wm)  # fmt: skip
            total += batch_loss if net.loss_code == SSE else batch_loss * (float(np.sum(wm)) / total_weight)
            backward_pass_np(net.params, net.grads, net.sizes, net.acts, net.loss_code, Xm, Ym, wm,
                             run.zbuf, run.abuf, run.dbuf)  # fmt: skip
            update_np(opt, net.params, net.grads, run.lrs[e])
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
    "backward_pass_np",
    "bias_grad_np",
    "dense_forward_np",
    "forward_pass_np",
    "loss_value_np",
    "momentum_update_np",
    "output_delta_np",
    "sgd_update_np",
    "train_epochs_np",
    "update_np",
    "validation_loss_np",
    "weight_grad_np",
]
