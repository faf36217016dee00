"""Each loss and its output delta (B1) by its definition, written out here, on every backend and path.

The network is one layer ``[N, K]`` fed the identity matrix: sample n's pre-activation is ``W[n] + b``,
and the gradient of ``W`` is the output delta itself (``dW = X.T @ delta = delta``), so every route's
delta can be read through the public API. K = 3 outputs, N = 7 samples, batches of 3 (the last has 1).
The formulas are the definitions (docs/design.md), differentiated by the chain rule without the
simplifications the kernels use (``(a - y) * scale`` for the canonical pairs), at outputs well inside
(0, 1) where the literal logs are accurate.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import next_fit_seed

import loopnet
from loopnet import kernels

N, K, BATCH = 7, 3, 3
BACKENDS = ("plain", "numpy", "loops", "loops-blocked")  # loops-blocked: see conftest.py
OUTPUTS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "exp")
PAIRS = [(out, loss) for loss in ("sse", "mse") for out in OUTPUTS] + [
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
    ("exp", "poisson"),
]


def f(out, z):
    if out == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if out == "tanh":
        return np.tanh(z)
    if out == "relu":
        return np.maximum(z, 0)
    if out == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if out == "softmax":
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    if out == "exp":
        return np.exp(z)
    return z


def loss_by_definition(loss, a, y):
    m, k = y.shape
    if loss == "sse":
        return 0.5 * np.sum((a - y) ** 2)
    if loss == "mse":
        return np.sum((a - y) ** 2) / (m * k)
    if loss == "bce":
        return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / (m * k)
    if loss == "poisson":  # y ln(y / a) - y + a, the first term 0 where y = 0
        y_ln = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / a), 0.0)
        return np.sum(y_ln - y + a) / (m * k)
    return -np.sum(y * np.log(a)) / m  # cross_entropy


def delta_by_definition(loss, out, z, a, y):
    """dL/dz = (dL/da) (da/dz), both factors from the definitions."""
    m, k = y.shape
    if loss == "sse":
        dL_da = a - y
    elif loss == "mse":
        dL_da = 2 * (a - y) / (m * k)
    elif loss == "bce":
        dL_da = -(y / a - (1 - y) / (1 - a)) / (m * k)
    elif loss == "poisson":
        dL_da = (1 - y / a) / (m * k)
    else:
        dL_da = -y / (a * m)
    if out == "softmax":  # da_q/dz_j = a_q (1[q = j] - a_j)
        jac = a[:, :, None] * (np.eye(k)[None] - a[:, None, :])  # (m, q, j)
        return np.einsum("nq,nqj->nj", dL_da, jac)
    da_dz = {
        "identity": np.ones_like(z),
        "sigmoid": a * (1 - a),
        "tanh": 1 - a**2,
        "relu": (z > 0) * 1.0,
        "leaky_relu": np.where(z > 0, 1.0, 0.01),
        "exp": a,
    }[out]
    return dL_da * da_dz


def case(out, loss, seed=0):
    rng = np.random.default_rng([seed, PAIRS.index((out, loss))])
    W, b = rng.normal(0, 0.7, (N, K)), rng.normal(0, 0.3, K)
    if loss == "cross_entropy":  # soft rows: probabilities, not one-hot (and one one-hot row)
        Y = rng.dirichlet(np.ones(K), N)
        Y[0] = [0.0, 1.0, 0.0]
        # (a row summing to 2 is refused by the Network: cross_entropy takes probability rows only;
        # tests/test_bad_input.py holds that refusal)
    elif loss == "bce":
        Y = rng.random((N, K))
    elif loss == "poisson":  # counts, zeros among them
        Y = rng.poisson(1.5, (N, K)).astype(np.float64)
    else:
        Y = rng.normal(size=(N, K))
    return W, b, Y


def network(out, loss, backend, W, b, seed=None):
    net = loopnet.Network([N, K], output_activation=out, loss=loss, backend=backend.removesuffix("-blocked"),
                          seed=seed)  # fmt: skip
    net.set_weights([(W, b)])
    return net


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("out, loss", PAIRS, ids=[f"{o}-{l}" for o, l in PAIRS])
def test_loss_and_output_delta_by_their_definitions(out, loss, backend):
    W, b, Y = case(out, loss)
    net = network(out, loss, backend, W, b)
    X = np.eye(N)
    z = W + b
    a = f(out, z)
    assert net.loss(X, Y) == pytest.approx(loss_by_definition(loss, a, Y), rel=1e-12)
    ((dW, db),) = net.gradients(X, Y)
    delta = delta_by_definition(loss, out, z, a, Y)
    np.testing.assert_allclose(dW, delta, rtol=1e-10, atol=1e-14 * np.abs(delta).max())
    np.testing.assert_allclose(db, delta.sum(axis=0), rtol=1e-10, atol=1e-14 * np.abs(delta).max())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("out, loss", PAIRS, ids=[f"{o}-{l}" for o, l in PAIRS])
def test_an_epoch_of_uneven_batches_by_the_definitions(out, loss, backend):
    """Batches of 3, 3 and 1 rows: each batch's mean is over its own rows; the epoch's loss weights each
    batch by its rows (sse: adds them). Replayed step by step from the definitions in the kernel's order."""
    W, b, Y = case(out, loss, seed=1)
    gen = np.random.default_rng(5)
    net = network(out, loss, backend, W, b, seed=gen)
    state = np.array([next_fit_seed(gen)], dtype=np.int64)
    lr = 0.2
    history = net.fit(np.eye(N), Y, epochs=1, lr=lr, batch_size=BATCH)["loss"]

    order = np.arange(N, dtype=np.int64)
    kernels.shuffle(order, state)
    W, b, epoch_loss = W.copy(), b.copy(), 0.0
    for start in range(0, N, BATCH):
        rows = order[start : start + BATCH]
        z = W[rows] + b
        a = f(out, z)
        batch_loss = loss_by_definition(loss, a, Y[rows])
        epoch_loss += batch_loss if loss == "sse" else batch_loss * len(rows) / N
        delta = delta_by_definition(loss, out, z, a, Y[rows])
        W[rows] -= lr * delta  # dW = X[rows].T @ delta puts sample n's delta in row n
        b -= lr * delta.sum(axis=0)
    assert history[0] == pytest.approx(epoch_loss, rel=1e-12)
    ((W_net, b_net),) = net.weights
    np.testing.assert_allclose(W_net, W, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(b_net, b, rtol=1e-11, atol=1e-15)
