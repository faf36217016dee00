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

import numpy as np

from ._jit import kernel
from .activations import SIGMOID, SOFTMAX, activate_scalar, derivative_scalar
from .losses import BCE, CROSS_ENTROPY, SSE

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
def loss_value(loss_code, z, a, Y):
    """The loss L of one batch (definitions in losses.py), as a float.

    sse: 1/2 sum (a - y)^2          mse: sum (a - y)^2 / (N K)
    bce: sum [max(z, 0) - y z + log(1 + exp(-|z|))] / (N K)   (= -y ln a - (1-y) ln(1-a))
    cross_entropy: sum_n sum_k y[n, k] (lse_n - z[n, k]) / N,  lse_n = log sum_k exp(z[n, k])
    (= -y ln a). The last two use the logits z so they stay finite when a is 0 or 1.

    z, a, Y (N, K) -> float. Accumulates in float64 whatever the dtype.
    """
    N, K = a.shape
    total = 0.0
    if loss_code == BCE:
        for n in range(N):
            for k in range(K):
                x = np.float64(z[n, k])
                total += max(x, 0.0) - Y[n, k] * x + np.log1p(np.exp(-abs(x)))
        return total / (N * K)
    if loss_code == CROSS_ENTROPY:
        for n in range(N):
            m = np.float64(z[n, 0])
            for k in range(1, K):
                m = max(m, np.float64(z[n, k]))
            s = 0.0
            for k in range(K):
                s += np.exp(z[n, k] - m)
            lse = m + np.log(s)
            for k in range(K):
                total += Y[n, k] * (lse - z[n, k])
        return total / N
    for n in range(N):
        for k in range(K):
            e = np.float64(a[n, k]) - Y[n, k]
            total += e * e
    if loss_code == SSE:
        return 0.5 * total
    return total / (N * K)  # mse


@kernel
def output_delta(loss_code, code, z, a, Y, delta):
    """B1 -- article backprop Steps 1-2: delta = dL/da * f'(z) at the output.

    Canonical pairs reduce to (a - y) * scale:
      sigmoid + bce:            delta[n, k] = (a - y) / (N K)
      softmax + cross_entropy:  delta[n, k] = (a[n, k] s_n - y[n, k]) / N,  s_n = sum_k y[n, k]
                                (= (a - y) / N for one-hot rows)
    Otherwise g = dL/da = (a - y) * c with c = 1 (sse) or 2 / (N K) (mse), and
      delta[n, k] = g[n, k] * f'(z[n, k])                        element-wise f
      delta[n, k] = a[n, k] (g[n, k] - sum_q g[n, q] a[n, q])    softmax (its Jacobian)

    loss_code, code (output activation), z, a, Y (N, K) -> delta (N, K), in place.
    """
    N, K = a.shape
    if loss_code == BCE and code == SIGMOID:
        scale = 1.0 / (N * K)
        for n in range(N):
            for k in range(K):
                delta[n, k] = (a[n, k] - Y[n, k]) * scale
        return
    if loss_code == CROSS_ENTROPY and code == SOFTMAX:
        scale = 1.0 / N
        for n in range(N):
            s = 0.0
            for k in range(K):
                s += Y[n, k]
            for k in range(K):
                delta[n, k] = (a[n, k] * s - Y[n, k]) * scale
        return
    c = 1.0 if loss_code == SSE else 2.0 / (N * K)
    if code == SOFTMAX:
        for n in range(N):
            ga = 0.0  # sum_q g[n, q] a[n, q]
            for k in range(K):
                ga += (a[n, k] - Y[n, k]) * c * a[n, k]
            for k in range(K):
                delta[n, k] = a[n, k] * ((a[n, k] - Y[n, k]) * c - ga)
        return
    for n in range(N):
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
def backward_pass(params, grads, sizes, acts, loss_code, X, Y, zbuf, abuf, dbuf):
    """B1 at the output, then B3, B4 and B2 layer by layer, last to first.

    Needs forward_pass's zbuf and abuf for the same X. Writes every layer's
    delta into dbuf and (dW, db) into the flat ``grads``; params are only read.
    """
    N = X.shape[0]
    L = sizes.shape[0] - 1
    output_delta(
        loss_code,
        acts[L - 1],
        work_view_c(zbuf, sizes, L - 1, N),
        work_view_c(abuf, sizes, L - 1, N),
        Y,
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
def train_sgd(params, grads, sizes, acts, loss_code, X, Y, lr, batch_size, rng_state, order,
              Xb, Yb, zbuf, abuf, dbuf, losses):  # fmt: skip
    """Minibatch gradient descent for len(losses) epochs, all inside compiled code.

    Each epoch: shuffle the row order (when there is more than one batch); for
    each batch of up to batch_size rows: gather the rows into Xb, Yb, then
    forward_pass, loss_value, backward_pass and sgd_update. losses[e] receives
    epoch e's loss over the whole training set, each batch measured before its
    update: the sum of batch losses for sse, the size-weighted mean otherwise.

    Xb, Yb, zbuf, abuf, dbuf are flat work buffers with room for batch_size
    rows; nothing is allocated inside the epoch loop.
    """
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
            gather_rows(X, order, start, Xm)
            gather_rows(Y, order, start, Ym)
            forward_pass(params, sizes, acts, Xm, zbuf, abuf)
            batch_loss = loss_value(
                loss_code, work_view_c(zbuf, sizes, L - 1, m), work_view_c(abuf, sizes, L - 1, m), Ym
            )
            total += batch_loss if summed else batch_loss * (m / N)  # m / N is 1.0 exactly for full batch
            backward_pass(params, grads, sizes, acts, loss_code, Xm, Ym, zbuf, abuf, dbuf)
            sgd_update(params, grads, lr)
        losses[e] = total
