"""The minibatch shuffle: uniform over all orders, and the same order on every backend for the same seed.

Every backend calls one shuffle kernel (``kernels.shuffle``: Fisher-Yates driven by a Park-Miller
generator); test_paths.py replays fit's batches by hand in that order on every route, so a route that
shuffled differently fails there. This file holds the order itself to the uniform distribution.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import next_fit_seed

import loopnet
from loopnet import kernels

ORDERS = list(itertools.permutations(range(4)))


def draw_orders(seed: int, draws: int, *, chained: bool) -> list[tuple[int, ...]]:
    """``draws`` shuffles of 4 rows from one generator state, as fit draws them epoch after epoch.

    chained: each shuffle permutes the previous order (what fit does); otherwise it starts from 0, 1, 2, 3.
    """
    state = np.array([seed], dtype=np.int64)
    order = np.arange(4, dtype=np.int64)
    out = []
    for _ in range(draws):
        if not chained:
            order[:] = np.arange(4)
        kernels.shuffle(order, state)
        out.append(tuple(int(v) for v in order))
    return out


@pytest.mark.parametrize("chained", [False, True], ids=["from-identity", "chained"])
@pytest.mark.parametrize("seed", [1, 12345, 2**31 - 2])
def test_all_24_orders_appear_uniformly(seed, chained):
    """Counts of the 24 orders of 4 rows within 5 standard deviations of uniform, over 48,000 shuffles.

    A shuffle that never leaves a row in place (Sattolo's algorithm) reaches only the 6 cyclic orders; a
    biased one (j drawn from 0..n-1 at every step) skews the counts by far more than 5 sigma.
    """
    draws = 48_000
    counts = dict.fromkeys(ORDERS, 0)
    for order in draw_orders(seed, draws, chained=chained):
        counts[order] += 1
    expected = draws / 24
    sigma = math.sqrt(draws * (1 / 24) * (23 / 24))
    worst = max(abs(c - expected) for c in counts.values())
    assert worst <= 5 * sigma, f"an order's count is {worst / sigma:.1f} sigma from uniform: {counts}"
    # rows do stay in place: row 0 first in about a quarter of the shuffles
    stays = sum(c for order, c in counts.items() if order[0] == 0)
    assert abs(stays - draws / 4) <= 5 * math.sqrt(draws * 0.25 * 0.75)


def test_same_seed_same_order_and_another_seed_another():
    a = draw_orders(7, 50, chained=True)
    assert draw_orders(7, 50, chained=True) == a
    assert draw_orders(8, 50, chained=True) != a


BACKENDS = ("plain", "numpy", "loops", "loops-blocked")  # loops-blocked: see conftest.py


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_visits_the_rows_in_the_kernels_order(backend):
    """A fit's batches follow the shuffle kernel's order for the seed it draws, on every backend.

    One input per row (X = the identity), identity output, sse, batch of one: each step changes only
    the weight row of the sample it visits and the bias, so the bias after each epoch's steps encodes the
    order. Replayed by hand in the order the kernel gives, the weights match exactly when the order is the
    same and not otherwise.
    """
    N = 5
    X, Y = np.eye(N), np.arange(1.0, N + 1).reshape(N, 1)
    gen = np.random.default_rng(3)
    net = loopnet.Network([N, 1], output_activation="identity", loss="sse",
                          backend=backend.removesuffix("-blocked"), seed=gen)  # fmt: skip
    net.set_weights([(np.zeros((N, 1)), np.zeros(1))])
    state = np.array([next_fit_seed(gen)], dtype=np.int64)
    lr, epochs = 0.25, 3
    net.fit(X, Y, epochs=epochs, lr=lr, batch_size=1)

    def replay(orders):
        W, b = np.zeros(N), 0.0
        for order in orders:
            for n in order:
                error = W[n] + b - Y[n, 0]  # z = x . W + b with x the n-th unit vector; dL/dz = a - y
                W[n] -= lr * error
                b -= lr * error
        return W, b

    order = np.arange(N, dtype=np.int64)
    orders = []
    for _ in range(epochs):
        kernels.shuffle(order, state)
        orders.append(order.copy())
    W, b = replay(orders)
    ((W_net, b_net),) = net.weights
    np.testing.assert_allclose(W_net.ravel(), W, rtol=1e-13)
    np.testing.assert_allclose(b_net, [b], rtol=1e-13)
    other = replay([np.roll(o, 1) for o in orders])  # the same rows in another order: other numbers
    assert not np.allclose(W, other[0], rtol=1e-6)
