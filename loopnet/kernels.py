"""The plain loop kernels: every equation of docs/design.md as explicit loops.

This is loopnet's reading path. Each kernel does one equation, names its tag
(F1, F2, B1-B4, U1) and the step of the matrix-only article (seed 000: the AND
gate worked by hand, forward Steps 1-4 and backprop Steps 1-13) it mirrors, and
writes into arrays the caller owns. ``kernels_np.py`` holds the NumPy twin of
each function, with the same name plus ``_np``, the same signature and the
same order, so the two files can be read side by side.

Notation: samples are rows. ``n`` indexes samples, ``i`` the units of the
previous layer, ``j`` the units of this layer, ``k`` the outputs (classes).
``z`` is always the pre-activation, ``a = f(z)`` the activation, ``delta`` is
dL/dz. ``W`` has shape (I, J), so ``z = a_prev @ W + b``.

Compiled code never validates its input: ``loopnet.Network`` checks shapes,
dtypes and values before calling anything here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import kernel
from .activations import EXP, SIGMOID, SOFTMAX, activate_scalar, derivative_scalar
from .losses import BCE, CROSS_ENTROPY, MSE, POISSON, SSE

# --- one layer: the equations ------------------------------------------------


@kernel
def dense_forward(a_prev, W, b, z):
    """F1 -- article forward Steps 1 and 3: z = a_prev @ W + b.

    z[n, j] = b[j] + sum_i a_prev[n, i] * W[i, j]

    a_prev (N, I), W (I, J), b (J,) -> z (N, J), written in place.
    """
    N, I = a_prev.shape
    J = W.shape[1]
    for n in range(N):  # each sample
        for j in range(J):
            z[n, j] = b[j]  # start from the bias
        for i in range(I):  # add each input's contribution; j walks W[i, :] contiguously
            x = a_prev[n, i]
            for j in range(J):
                z[n, j] += x * W[i, j]


@kernel
def activate(code, z, a):
    """F2 -- article forward Steps 2 and 4: a = f(z).

    a[n, j] = f(z[n, j]); for softmax, row by row with m_n = max_k z[n, k]:
    a[n, j] = exp(z[n, j] - m_n) / sum_k exp(z[n, k] - m_n)

    code (activation code), z (N, J) -> a (N, J), written in place.
    """
    N, J = z.shape
    if code == SOFTMAX:
        for n in range(N):
            m = z[n, 0]  # the row maximum keeps every exp <= 1
            for j in range(1, J):
                if z[n, j] > m:
                    m = z[n, j]
            total = 0.0
            for j in range(J):
                a[n, j] = np.exp(z[n, j] - m)
                total += a[n, j]
            for j in range(J):
                a[n, j] /= total
        return
    for n in range(N):
        for j in range(J):
            a[n, j] = activate_scalar(code, z[n, j])


@kernel
def loss_value(loss_code, z, a, Y, sw):
    """The loss L of one batch (definitions in losses.py), as a float.

    Each sample n has a weight sw[n] (all ones unless fit or loss got
    sample_weight); S = sum_n sw[n]. Row n's loss l_n is
      sse: 1/2 sum_k (a - y)^2             mse: sum_k (a - y)^2 / K
      bce: sum_k [max(z, 0) - y z + log(1 + exp(-|z|))] / K   (= -y ln a - (1-y) ln(1-a))
      cross_entropy: sum_k y[n, k] (lse_n - z[n, k]),  lse_n = log sum_k exp(z[n, k])   (= -y ln a)
      poisson: sum_k [(a - y) + y (ln y - z)] / K,  the y term 0 where y = 0   (= y ln(y/a) - y + a, a = e^z)
    and L = sum_n sw[n] l_n for sse, sum_n sw[n] l_n / S for the others (0 when S = 0),
    so integer weights equal repeated rows. bce, cross_entropy and poisson use the
    logits z so they stay finite when a is 0 or 1 (poisson: when a rounds to 0).

    z, a, Y (N, K), sw (N,) -> float. Accumulates in float64 whatever the dtype.
    """
    N, K = a.shape
    S = 0.0
    for n in range(N):
        S += sw[n]
    total = 0.0
    for n in range(N):
        row = 0.0  # the sum over k of row n's terms
        if loss_code == BCE:
            for k in range(K):
                x = np.float64(z[n, k])
                row += max(x, 0.0) - Y[n, k] * x + np.log1p(np.exp(-abs(x)))
        elif loss_code == CROSS_ENTROPY:
            m = np.float64(z[n, 0])
            for k in range(1, K):
                m = max(m, np.float64(z[n, k]))
            s = 0.0
            for k in range(K):
                s += np.exp(z[n, k] - m)
            lse = m + np.log(s)
            for k in range(K):
                if Y[n, k] != 0:  # 0 (lse - z) is 0 even where lse - z overflows: z 1e308 below the max
                    row += Y[n, k] * (lse - z[n, k])
        elif loss_code == POISSON:
            for k in range(K):
                y = np.float64(Y[n, k])
                t = np.float64(a[n, k]) - y
                if y > 0.0:  # y ln(y / a) = y (ln y - z), finite for any z; 0 at y = 0
                    t += y * (np.log(y) - z[n, k])
                row += t
        else:
            for k in range(K):
                e = np.float64(a[n, k]) - Y[n, k]
                row += e * e
        total += sw[n] * row
    if loss_code == SSE:
        return 0.5 * total
    if S == 0.0:
        return 0.0
    if loss_code == CROSS_ENTROPY:
        return total / S
    return total / (S * K)  # mse, bce, poisson: the mean over outputs too


@kernel
def output_delta(loss_code, code, z, a, Y, sw, delta):
    """B1 -- article backprop Steps 1-2: delta = dL/da * f'(z) at the output.

    With S = sum_n sw[n] (see loss_value), row n's scale is c_n = sw[n] (sse),
    2 sw[n] / (S K) (mse), sw[n] / (S K) (bce, poisson) or sw[n] / S (cross_entropy);
    every c_n is 0 when S = 0. Canonical pairs reduce to (a - y) * c_n:
      sigmoid + bce:            delta[n, k] = (a - y) c_n
      exp + poisson:            delta[n, k] = (a - y) c_n        (dL/da = (1 - y/a) c_n, f' = a)
      softmax + cross_entropy:  delta[n, k] = (a[n, k] s_n - y[n, k]) c_n,  s_n = sum_k y[n, k]
                                (= (a - y) c_n for one-hot rows)
    Otherwise g = dL/da = (a - y) c_n, and
      delta[n, k] = g[n, k] * f'(z[n, k])                        element-wise f
      delta[n, k] = a[n, k] (g[n, k] - sum_q g[n, q] a[n, q])    softmax (its Jacobian)

    loss_code, code (output activation), z, a, Y (N, K), sw (N,) -> delta (N, K), in place.
    """
    N, K = a.shape
    S = 0.0
    for n in range(N):
        S += sw[n]
    for n in range(N):
        if loss_code == SSE:
            c = sw[n]
        elif S == 0.0:
            c = 0.0
        elif loss_code == MSE:
            c = 2.0 * sw[n] / (S * K)
        elif loss_code == BCE or loss_code == POISSON:
            c = sw[n] / (S * K)
        else:
            c = sw[n] / S
        if (loss_code == BCE and code == SIGMOID) or (loss_code == POISSON and code == EXP):
            for k in range(K):
                delta[n, k] = (a[n, k] - Y[n, k]) * c
        elif loss_code == CROSS_ENTROPY and code == SOFTMAX:
            s = 0.0
            for k in range(K):
                s += Y[n, k]
            for k in range(K):
                delta[n, k] = (a[n, k] * s - Y[n, k]) * c
        elif code == SOFTMAX:
            ga = 0.0  # sum_q g[n, q] a[n, q]
            for k in range(K):
                ga += (a[n, k] - Y[n, k]) * c * a[n, k]
            for k in range(K):
                delta[n, k] = a[n, k] * ((a[n, k] - Y[n, k]) * c - ga)
        else:
            for k in range(K):
                delta[n, k] = (a[n, k] - Y[n, k]) * c * derivative_scalar(code, z[n, k], a[n, k])


@kernel
def backprop_delta(delta, W, code, z_prev, a_prev, delta_prev):
    """B2 -- article backprop Steps 8-9: delta_prev = (delta @ W.T) * f'(z_prev).

    delta_prev[n, i] = (sum_j delta[n, j] * W[i, j]) * f'(z_prev[n, i])

    Uses W before its update. delta (N, J), W (I, J), z_prev and a_prev (N, I)
    -> delta_prev (N, I), written in place.
    """
    N, J = delta.shape
    I = W.shape[0]
    for n in range(N):
        for i in range(I):
            s = 0.0
            for j in range(J):  # row n of delta and row i of W, both contiguous
                s += delta[n, j] * W[i, j]
            delta_prev[n, i] = s * derivative_scalar(code, z_prev[n, i], a_prev[n, i])


@kernel
def weight_grad(a_prev, delta, dW):
    """B3 -- article backprop Steps 3, 5 (layer 2) and 10, 12 (layer 1): dW = a_prev.T @ delta.

    dW[i, j] = sum_n a_prev[n, i] * delta[n, j]

    a_prev (N, I), delta (N, J) -> dW (I, J), overwritten.
    """
    N, I = a_prev.shape
    J = delta.shape[1]
    for i in range(I):
        for j in range(J):
            dW[i, j] = 0.0
    for n in range(N):  # each sample adds its outer product a_prev[n] x delta[n]
        for i in range(I):
            x = a_prev[n, i]
            for j in range(J):
                dW[i, j] += x * delta[n, j]


@kernel
def bias_grad(delta, db):
    """B4 -- article backprop Steps 4, 6 (layer 2) and 11, 13 (layer 1): db = delta summed over samples.

    db[j] = sum_n delta[n, j]      (dz/db = 1, not b: one of seed 001's quirks)

    delta (N, J) -> db (J,), overwritten.
    """
    N, J = delta.shape
    for j in range(J):
        db[j] = 0.0
    for n in range(N):
        for j in range(J):
            db[j] += delta[n, j]


@kernel
def sgd_update(params, grads, lr):
    """U1 -- article backprop Step 7 and the second "Step 12": w -= lr * dw, all at once.

    params[p] -= lr * grads[p] for every parameter p of every layer.

    Runs after all gradients of the step exist (the articles update w2 before
    using it for layer 1's deltas; loopnet does not). params, grads (P,) flat.
    """
    for p in range(params.shape[0]):
        params[p] -= lr * grads[p]


@kernel
def momentum_update(params, grads, decay, velocity, lr, momentum, dampening, nesterov, first):
    """U2 -- SGD with weight decay, momentum and Nesterov momentum: torch.optim.SGD's rule.

    For every parameter p, with g = grads[p] + decay[p] * params[p]
    (decay[p] is the weight decay for weights, 0 for biases):
      v = g on the first step, else  v = momentum * v + (1 - dampening) * g
      params[p] -= lr * (g + momentum * v)    with nesterov
      params[p] -= lr * v                     without
    With momentum = 0 this is params[p] -= lr * g and velocity is not used.
    params, grads, decay, velocity (P,) flat; velocity is the optimizer's state.
    """
    for p in range(params.shape[0]):
        g = grads[p] + decay[p] * params[p]
        if momentum != 0.0:
            if first:
                velocity[p] = g
            else:
                velocity[p] = momentum * velocity[p] + (1.0 - dampening) * g
            if nesterov:
                g = g + momentum * velocity[p]
            else:
                g = velocity[p]
        params[p] -= lr * g


@kernel
def adam_update(params, grads, decay, m, v, t, lr, beta1, beta2, eps, decoupled):
    """U3 -- Adam, or AdamW when ``decoupled``: torch.optim.Adam's and AdamW's rule.

    Step t (counted from 1) of every parameter p, with c1 = 1 - beta1^t, c2 = 1 - beta2^t:
      Adam:  g = grads[p] + decay[p] * params[p]      (weight decay added to the gradient)
      AdamW: params[p] *= 1 - lr * decay[p];  g = grads[p]    (decoupled weight decay)
      m[p] += (1 - beta1) * (g - m[p])                (= beta1 m + (1 - beta1) g, as torch computes it)
      v[p] = beta2 * v[p] + (1 - beta2) * g * g
      params[p] -= (lr / c1) * m[p] / (sqrt(v[p]) / sqrt(c2) + eps)
    decay[p] is the weight decay for weights, 0 for biases. params, grads,
    decay, m, v (P,) flat; m and v are the optimizer's state.
    """
    step_size = lr / (1.0 - beta1**t)
    root_c2 = np.sqrt(1.0 - beta2**t)
    for p in range(params.shape[0]):
        g = grads[p]
        if decoupled:
            params[p] *= 1.0 - lr * decay[p]
        else:
            g = g + decay[p] * params[p]
        m[p] += (1.0 - beta1) * (g - m[p])
        v[p] = beta2 * v[p] + (1.0 - beta2) * g * g
        params[p] -= step_size * (m[p] / (np.sqrt(v[p]) / root_c2 + eps))


# --- the whole network: views into flat buffers ------------------------------
#
# All parameters live in one flat array: layer l's W (row-major, I x J) followed
# by its b (J). Gradients use the same layout. Work buffers (z, a, delta) are
# flat too: layer l owns a block of capacity * n_l entries, of which the first
# N * n_l are viewed as an (N, n_l) array for a batch of N rows. Passing flat
# arrays lets N layers into compiled code without typed lists.


def param_views(params, sizes, l):
    """(W, b) of layer l as views of the flat ``params`` (or gradient) array."""
    off = 0
    for q in range(l):
        off += sizes[q] * sizes[q + 1] + sizes[q + 1]
    I = sizes[l]
    J = sizes[l + 1]
    W = params[off : off + I * J].reshape((I, J))
    b = params[off + I * J : off + I * J + J]
    return W, b


def work_view(buf, sizes, l, N):
    """Layer l's (N, n_l) block of a flat work buffer (z, a or delta)."""
    units = 0
    for q in range(1, sizes.shape[0]):
        units += sizes[q]
    capacity = buf.shape[0] // units
    off = 0
    for q in range(1, l + 1):
        off += sizes[q]
    start = capacity * off
    J = sizes[l + 1]
    return buf[start : start + N * J].reshape((N, J))


param_views_c = kernel(param_views)
work_view_c = kernel(work_view)


@kernel
def forward_pass(params, sizes, acts, X, zbuf, abuf):
    """F1 then F2 for every layer, first to last (article forward Steps 1-4).

    params flat, sizes (L+1,), acts (L,) activation codes, X (N, n0)
    -> each layer's z and a in zbuf, abuf.
    """
    N = X.shape[0]
    for l in range(sizes.shape[0] - 1):
        W, b = param_views_c(params, sizes, l)
        z = work_view_c(zbuf, sizes, l, N)
        a = work_view_c(abuf, sizes, l, N)
        if l == 0:
            dense_forward(X, W, b, z)
        else:
            dense_forward(work_view_c(abuf, sizes, l - 1, N), W, b, z)
        activate(acts[l], z, a)


@kernel
def backward_pass(params, grads, sizes, acts, loss_code, X, Y, sw, zbuf, abuf, dbuf):
    """B1 at the output, then B3, B4 and B2 layer by layer, last to first.

    Needs forward_pass's zbuf and abuf for the same X; sw (N,) are the sample
    weights (ones for the plain loss). Writes every layer's delta into dbuf and
    (dW, db) into the flat ``grads``; params are only read.
    """
    N = X.shape[0]
    L = sizes.shape[0] - 1
    output_delta(
        loss_code,
        acts[L - 1],
        work_view_c(zbuf, sizes, L - 1, N),
        work_view_c(abuf, sizes, L - 1, N),
        Y,
        sw,
        work_view_c(dbuf, sizes, L - 1, N),
    )
    for l in range(L - 1, -1, -1):
        delta = work_view_c(dbuf, sizes, l, N)
        dW, db = param_views_c(grads, sizes, l)
        if l == 0:
            weight_grad(X, delta, dW)
        else:
            weight_grad(work_view_c(abuf, sizes, l - 1, N), delta, dW)
        bias_grad(delta, db)
        if l > 0:
            W, _ = param_views_c(params, sizes, l)
            backprop_delta(
                delta,
                W,
                acts[l - 1],
                work_view_c(zbuf, sizes, l - 1, N),
                work_view_c(abuf, sizes, l - 1, N),
                work_view_c(dbuf, sizes, l - 1, N),
            )


@kernel
def shuffle(order, rng_state):
    """Fisher-Yates shuffle of ``order`` in place, driven by a seeded generator.

    The generator is Park-Miller "minimal standard" (x <- 48271 x mod 2^31 - 1),
    kept in rng_state[0]; it never overflows int64, so it runs the same compiled
    or as plain Python. Both backends call this one function, so they visit the
    same minibatches in the same order.
    """
    x = rng_state[0]
    for i in range(order.shape[0] - 1, 0, -1):
        x = (x * 48271) % 2147483647
        j = x % (i + 1)
        t = order[i]
        order[i] = order[j]
        order[j] = t
    rng_state[0] = x


@kernel
def gather_rows(src, order, start, dst):
    """dst[r, :] = src[order[start + r], :] for each row r of dst (a minibatch)."""
    R, C = dst.shape
    for r in range(R):
        s = order[start + r]
        for c in range(C):
            dst[r, c] = src[s, c]


@kernel
def gather_values(src, order, start, dst):
    """dst[r] = src[order[start + r]] for each r; returns their sum (a minibatch's sample weights)."""
    total = 0.0
    for r in range(dst.shape[0]):
        dst[r] = src[order[start + r]]
        total += dst[r]
    return total


# --- training: the state compiled code carries, in three groups ---------------
#
# A fit hands compiled code three named tuples of arrays and numbers, so a
# chunk of epochs is one call: ``Net`` (the network), ``Optim`` (the update
# rule and its state) and ``Run`` (the data, the work buffers, the history and
# the stopping rules). Python (loopnet/training.py) builds them, checks every
# value first, and reads the history back between chunks.

PLAIN_SGD, SGD, ADAM, ADAMW = range(4)
"""Optimizer kinds: U1 (w -= lr * dw), U2 (torch's SGD), U3 (Adam), U3 decoupled (AdamW)."""

RUNNING, EARLY_STOPPING, DIVERGED = range(3)
"""What a chunk of epochs ended with."""

NO_MONITOR, MONITOR_LOSS, MONITOR_VAL_LOSS = range(3)
"""What early stopping watches."""


class Net(NamedTuple):
    """The network: its flat parameters and gradients (layout above) and its structure."""

    params: np.ndarray  # (P,) every layer's W (row-major) then b
    grads: np.ndarray  # (P,) the same layout
    sizes: np.ndarray  # (L + 1,) int64 units per layer
    acts: np.ndarray  # (L,) int64 activation codes
    loss_code: int


class Optim(NamedTuple):
    """An update rule (kind, hyperparameters) and its state, which outlives a fit."""

    kind: int  # PLAIN_SGD, SGD, ADAM or ADAMW
    momentum: float
    dampening: float
    nesterov: bool
    beta1: float
    beta2: float
    eps: float
    eps_hat: bool  # Adam: eps added to sqrt(v) before the bias corrections (scikit-learn's form)
    decay: np.ndarray  # (P,) weight decay of each parameter: 0 for the biases
    m: np.ndarray  # (P,) velocity (SGD) or first moment (Adam)
    v: np.ndarray  # (P,) second moment (Adam)
    step: np.ndarray  # (1,) int64: updates taken so far


class Run(NamedTuple):
    """One fit: data, work buffers, the history it writes and its stopping rules."""

    X: np.ndarray  # (N, n0) training rows
    Y: np.ndarray  # (N, nL) targets
    sw: np.ndarray  # (N,) float64 sample weights (ones when fit has none)
    Xv: np.ndarray  # (Nv, n0) validation rows; Nv = 0 without validation
    Yv: np.ndarray  # (Nv, nL)
    swv: np.ndarray  # (Nv,) validation sample weights
    lrs: np.ndarray  # (epochs,) float64 learning rate of each epoch
    batch_size: int
    shuffle: bool  # shuffle the rows every epoch (when there is more than one batch)
    order: np.ndarray  # (N,) int64 row order, shuffled in place
    rng_state: np.ndarray  # (1,) int64 the shuffle's generator
    Xb: np.ndarray  # flat room for batch_size rows of X, of Y, and their weights
    Yb: np.ndarray
    wb: np.ndarray
    zbuf: np.ndarray  # flat z, a and delta of every layer for batch_size rows
    abuf: np.ndarray
    dbuf: np.ndarray
    zv: np.ndarray  # flat z and a for the validation rows
    av: np.ndarray
    losses: np.ndarray  # (epochs,) float64, written epoch by epoch
    val_losses: np.ndarray  # (epochs,) float64 (unused without validation)
    monitor: int  # NO_MONITOR, MONITOR_LOSS or MONITOR_VAL_LOSS: early stopping
    patience: int
    min_delta: float
    restore_best: bool
    best: np.ndarray  # (1,) float64 best monitored value so far
    waits: np.ndarray  # (2,) int64 epochs since the best one, the best epoch
    best_params: np.ndarray  # (P,) the parameters after the best epoch (restore_best)
    last_params: np.ndarray  # (P,) parameters after the last finite epoch, and the optimizer state
    last_m: np.ndarray
    last_v: np.ndarray
    last_step: np.ndarray
    paramsT: np.ndarray  # fast loops only (size 0 otherwise): transposed copies, see fast.py
    XbT: np.ndarray
    aTbuf: np.ndarray
    dTbuf: np.ndarray
    l2: float  # the L2 penalty's coefficient (R in docs/design.md); 0 for none
    batch_losses: np.ndarray  # (batches, 2) float64: each batch's loss and L2 penalty, last epoch; or (0, 2)


@kernel
def update(opt, params, grads, lr):
    """One step of the optimizer: U1, U2 or U3 on every parameter, after all gradients exist."""
    opt.step[0] += 1
    if opt.kind == PLAIN_SGD:
        sgd_update(params, grads, lr)
    elif opt.kind == SGD:
        momentum_update(params, grads, opt.decay, opt.m, lr, opt.momentum, opt.dampening, opt.nesterov,
                        opt.step[0] == 1)  # fmt: skip
    else:
        adam_update(params, grads, opt.decay, opt.m, opt.v, opt.step[0], lr, opt.beta1, opt.beta2,
                    adam_eps(opt, opt.step[0]), opt.kind == ADAMW)  # fmt: skip


@kernel
def adam_eps(opt, t):
    """The eps adam_update adds at step t: opt.eps, or opt.eps / sqrt(1 - beta2^t) with opt.eps_hat.

    With eps_hat, eps is added to sqrt(v) before the bias corrections, Kingma and Ba's
    "eps hat" form that scikit-learn uses: params -= lr sqrt(c2) / c1 * m / (sqrt(v) + eps).
    That is adam_update's rule with this eps, as dividing through by sqrt(c2) shows.
    """
    if opt.eps_hat:
        return opt.eps / np.sqrt(1.0 - opt.beta2**t)
    return opt.eps


@kernel
def l2_penalty(params, grads, sizes, c):
    """R -- the L2 penalty's gradient: grads[W] += c * W for every weight (the biases have none).

    Returns sum W**2 over every weight, summed in float64, for the penalty's value
    (l2 / 2) sum W**2 / S that train_epochs adds to a batch's loss (S: the batch's
    total sample weight, c = l2 / S): scikit-learn's alpha, scaled as it scales it.
    params, grads (P,) flat in the layout above; sizes (L + 1,).
    """
    total = 0.0
    off = 0
    for l in range(sizes.shape[0] - 1):
        I = sizes[l]
        J = sizes[l + 1]
        for p in range(off, off + I * J):
            w = params[p]
            total += np.float64(w) * w
            grads[p] += c * w
        off += I * J + J
    return total


@kernel
def batch_penalty(net, run, b, batch_loss, batch_weight):
    """The L2 penalty of batch b (added to net.grads, see l2_penalty); records b's loss and penalty.

    Called after backward_pass and before the update; returns the penalty
    (0 without one, or for a batch of total weight 0). Row b of run.batch_losses
    gets (batch_loss, penalty) when the run records them.
    """
    penalty = 0.0
    if run.l2 > 0.0 and batch_weight > 0.0:
        c = run.l2 / batch_weight
        penalty = 0.5 * c * l2_penalty(net.params, net.grads, net.sizes, c)
    if run.batch_losses.shape[0] > 0:
        run.batch_losses[b, 0] = batch_loss
        run.batch_losses[b, 1] = penalty
    return penalty


@kernel
def all_finite(x):
    """Whether every entry of x is finite (compiled without fastmath, so NaN and inf are seen)."""
    for i in range(x.shape[0]):
        if not np.isfinite(x[i]):
            return False
    return True


@kernel
def copy_into(dst, src):
    """dst[i] = src[i] for every i."""
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@kernel
def end_of_epoch(net, opt, run, e):
    """After epoch e: the divergence check, then early stopping. Returns RUNNING, EARLY_STOPPING or DIVERGED.

    A non-finite loss (training or validation) or parameter puts back the
    parameters and the optimizer state of the last finite epoch and reports
    DIVERGED. Otherwise they become
    the last finite ones, and early stopping compares the monitored value with
    the best so far: better by more than min_delta resets the wait (and keeps
    these parameters, with restore_best); patience epochs in a row without
    that stops, back at the best parameters when restore_best is set.
    """
    finite = np.isfinite(run.losses[e]) and (run.Xv.shape[0] == 0 or np.isfinite(run.val_losses[e]))
    if not (finite and all_finite(net.params)):
        copy_into(net.params, run.last_params)
        copy_into(opt.m, run.last_m)
        copy_into(opt.v, run.last_v)
        opt.step[0] = run.last_step[0]
        return DIVERGED
    copy_into(run.last_params, net.params)
    if opt.kind != PLAIN_SGD:
        copy_into(run.last_m, opt.m)
        copy_into(run.last_v, opt.v)
    run.last_step[0] = opt.step[0]
    if run.monitor == NO_MONITOR:
        return RUNNING
    value = run.losses[e] if run.monitor == MONITOR_LOSS else run.val_losses[e]
    if value < run.best[0] - run.min_delta:
        run.best[0] = value
        run.waits[0] = 0
        run.waits[1] = e
        if run.restore_best:
            copy_into(run.best_params, net.params)
        return RUNNING
    run.waits[0] += 1
    if run.waits[0] < run.patience:
        return RUNNING
    if run.restore_best:
        copy_into(net.params, run.best_params)
    return EARLY_STOPPING


@kernel
def validation_loss(net, run):
    """The loss on the validation rows with the current parameters (a forward pass into zv, av)."""
    Nv = run.Xv.shape[0]
    L = net.sizes.shape[0] - 1
    forward_pass(net.params, net.sizes, net.acts, run.Xv, run.zv, run.av)
    return loss_value(net.loss_code, work_view_c(run.zv, net.sizes, L - 1, Nv),
                      work_view_c(run.av, net.sizes, L - 1, Nv), run.Yv, run.swv)  # fmt: skip


@kernel
def train_epochs(net, opt, run, first, count):
    """Epochs first .. first + count - 1 of a fit, all inside compiled code; returns (epochs run, status).

    Each epoch: shuffle the row order (if asked and there is more than one
    batch); for each batch of up to batch_size rows: gather its rows and
    weights, then forward_pass, loss_value, backward_pass, the L2 penalty
    (batch_penalty, when run.l2 > 0) and one optimizer update at the epoch's
    learning rate. losses[e] receives epoch e's loss over the training set,
    penalty included, each batch measured before its update: the sum of the
    batch losses for sse, their mean weighted by each batch's total sample
    weight otherwise. Then the validation loss (when there are validation
    rows) and end_of_epoch, which may stop the run early.

    Nothing is allocated inside the epoch loop: every buffer is in ``run``.
    """
    N, n0 = run.X.shape
    nL = run.Y.shape[1]
    L = net.sizes.shape[0] - 1
    B = min(run.batch_size, N)
    total_weight = 0.0
    for n in range(N):
        total_weight += run.sw[n]
    for e in range(first, first + count):
        if run.shuffle and B < N:
            shuffle(run.order, run.rng_state)
        total = 0.0
        for start in range(0, N, B):
            m = min(B, N - start)
            Xm = run.Xb[: m * n0].reshape((m, n0))
            Ym = run.Yb[: m * nL].reshape((m, nL))
            wm = run.wb[:m]
            gather_rows(run.X, run.order, start, Xm)
            gather_rows(run.Y, run.order, start, Ym)
            batch_weight = gather_values(run.sw, run.order, start, wm)
            forward_pass(net.params, net.sizes, net.acts, Xm, run.zbuf, run.abuf)
            batch_loss = loss_value(net.loss_code, work_view_c(run.zbuf, net.sizes, L - 1, m),
                                    work_view_c(run.abuf, net.sizes, L - 1, m), Ym, wm)  # fmt: skip
            total += batch_loss if net.loss_code == SSE else batch_loss * (batch_weight / total_weight)
            backward_pass(net.params, net.grads, net.sizes, net.acts, net.loss_code, Xm, Ym, wm,
                          run.zbuf, run.abuf, run.dbuf)  # fmt: skip
            penalty = batch_penalty(net, run, start // B, batch_loss, batch_weight)
            total += penalty if net.loss_code == SSE else penalty * (batch_weight / total_weight)
            update(opt, net.params, net.grads, run.lrs[e])
        run.losses[e] = total
        if run.Xv.shape[0] > 0:
            run.val_losses[e] = validation_loss(net, run)
        status = end_of_epoch(net, opt, run, e)
        if status != RUNNING:
            return e - first + 1, status
    return count, RUNNING
