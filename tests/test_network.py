"""loopnet.Network: the backends agree; a loops fit is one compiled call that allocates nothing per epoch."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest

import loopnet
from loopnet import fast

CASES = [
    # sizes, hidden activation(s), output activation, loss
    ([8, 16, 3], "relu", "softmax", "cross_entropy"),
    ([5, 7, 4, 2], ["tanh", "leaky_relu"], "sigmoid", "bce"),
    ([3, 6, 1], "sigmoid", "identity", "mse"),
    ([4, 5, 2], "identity", "tanh", "sse"),
    ([4, 6, 2], "tanh", "exp", "poisson"),
]


def _data(sizes, loss, N=53, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, sizes[0]))
    K = sizes[-1]
    if loss == "cross_entropy":
        Y = np.eye(K)[rng.integers(0, K, N)]
    elif loss == "bce":
        Y = (rng.random((N, K)) > 0.5).astype(float)
    elif loss == "poisson":  # counts whose log-rate the inputs set
        Y = rng.poisson(np.exp(0.5 * X[:, :K])).astype(float)
    else:
        Y = 0.5 * rng.normal(size=(N, K))
    return X, Y


@pytest.mark.parametrize("sizes, hidden, output, loss", CASES)
def test_backends_give_the_same_weights_after_50_minibatch_epochs(sizes, hidden, output, loss):
    X, Y = _data(sizes, loss)
    nets = {}
    for backend in ("loops", "loops-blocked", "plain", "numpy"):
        with pytest.MonkeyPatch.context() as mp:
            if backend == "loops-blocked":  # these networks are tiny: force the register-blocked kernels
                mp.setattr(fast, "SMALL_MAX_WORK", -1)
            net = loopnet.Network(sizes, activation=hidden, output_activation=output, loss=loss,
                                  backend=backend.removesuffix("-blocked"), seed=7)  # fmt: skip
            history = net.fit(X, Y, epochs=50, lr=0.05, batch_size=8)  # 53 rows: the last batch has 5
        nets[backend] = (net, history["loss"])
    net_n, h_n = nets["numpy"]
    scale = np.max(np.abs(net_n.params))
    for backend in ("loops", "loops-blocked", "plain"):
        net_l, h_l = nets[backend]
        assert h_l[-1] < h_l[0]  # it learned something
        # 1e-12 per step (docs/design.md) compounded over 50 epochs x 7 batches of a contracting map
        assert np.max(np.abs(net_l.params - net_n.params)) <= 1e-10 * scale, backend
        np.testing.assert_allclose(h_l, h_n, rtol=1e-10, err_msg=backend)
    # the tiny-network path sums exactly as the plain loops do
    np.testing.assert_array_equal(nets["loops"][0].params, nets["plain"][0].params)


def test_minibatches_are_shuffled_and_seeded():
    """Shuffling changes the result; the same seed repeats it exactly."""
    X, Y = _data([3, 6, 1], "mse")

    def run(seed, batch_size):
        net = loopnet.Network([3, 6, 1], output_activation="identity", loss="mse", seed=seed)
        net.set_weights(loopnet.Network([3, 6, 1], seed=0).weights)  # same start for every run
        net.fit(X, Y, epochs=3, lr=0.1, batch_size=batch_size)
        return net.params

    np.testing.assert_array_equal(run(1, 8), run(1, 8))
    assert not np.allclose(run(1, 8), run(2, 8))  # a different shuffle, a different path
    np.testing.assert_allclose(run(1, None), run(2, None), rtol=1e-15)  # full batch: no shuffle


def test_full_batch_history_is_the_loss_before_each_step():
    X, Y = _data([3, 6, 1], "mse")
    net = loopnet.Network([3, 6, 1], output_activation="identity", loss="mse", seed=3)
    expected = []
    probe = loopnet.Network([3, 6, 1], output_activation="identity", loss="mse")
    probe.set_weights(net.weights)
    for _ in range(4):
        expected.append(probe.loss(X, Y))
        probe.fit(X, Y, epochs=1, lr=0.1)
    history = net.fit(X, Y, epochs=4, lr=0.1)["loss"]
    np.testing.assert_allclose(history, expected, rtol=1e-13)


def test_minibatch_history_sums_sse_and_averages_the_rest():
    """With one step of lr ~ 0 the weights barely move, so the epoch loss is the full-data loss."""
    for loss, out in (("sse", "identity"), ("mse", "identity"), ("bce", "sigmoid")):
        X, Y = _data([3, 4, 2], loss)
        net = loopnet.Network([3, 4, 2], output_activation=out, loss=loss, seed=1)
        full = net.loss(X, Y)
        history = net.fit(X, Y, epochs=1, lr=1e-300, batch_size=10)["loss"]
        assert history[0] == pytest.approx(full, rel=1e-12), loss


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_end_to_end(dtype):
    X, Y = _data([4, 5, 2], "sse")
    net = loopnet.Network([4, 5, 2], output_activation="identity", dtype=dtype, seed=0)
    net.fit(X, Y, epochs=2, lr=0.01, batch_size=16)
    assert net.params.dtype == np.dtype(dtype)
    assert net.forward(X).dtype == np.dtype(dtype)
    assert all(W.dtype == np.dtype(dtype) and db.dtype == np.dtype(dtype) for W, db in net.gradients(X, Y))


def test_predict_is_forward_and_forward_is_the_layer_formula():
    X, _ = _data([3, 4, 2], "sse", N=6)
    net = loopnet.Network(
        [3, 4, 2], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=2
    )
    (W1, b1), (W2, b2) = net.weights
    z2 = np.tanh(X @ W1 + b1) @ W2 + b2
    expected = np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-13)
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-13)


def test_loops_fit_is_one_compiled_call_per_chunk_of_epochs():
    """No per-step or per-epoch Python: a chunk of epochs is one compiled call, and chunks grow tenfold
    until one lasts about 0.1 s, so 20,000 epochs of a tiny network take a handful of calls."""
    X, Y = _data([3, 6, 1], "mse")
    net = loopnet.Network([3, 6, 1], output_activation="identity", loss="mse", seed=0)
    net.fit(X, Y, epochs=1, lr=0.01, batch_size=8)  # compile outside the count
    kernels = net._kernels
    chunks = []

    def counted(*args):
        chunks.append(args[-1])  # the epochs asked of this call
        return kernels.train_epochs(*args)

    net._kernels = SimpleNamespace(**{**vars(kernels), "train_epochs": counted})
    start = time.perf_counter()
    net.fit(X, Y, epochs=20_000, lr=0.01, batch_size=8)
    seconds = time.perf_counter() - start
    assert sum(chunks) == 20_000 and chunks[0] == 1
    assert all(b <= 10 * a for a, b in itertools.pairwise(chunks)), chunks
    # growing tenfold to 20,000 takes five chunks; after that, one per 0.1 s at most (a loaded machine)
    assert len(chunks) <= 6 + seconds / 0.1, (chunks, seconds)


ALLOC_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np, loopnet
    from numba.core.runtime import rtsys
    sizes, batch_size = {"tiny": ([4, 6, 1], 8), "blocked": ([160, 128, 24, 3], 64)}[sys.argv[1]]
    X = np.random.default_rng(0).normal(size=(150, sizes[0])); Y = (X[:, :sizes[-1]] > 0).astype(float)
    net = loopnet.Network(sizes, seed=0)
    w = np.arange(150) % 3

    def fit(epochs, chunk_seconds):  # Adam, sample weights, validation and early stopping all running
        stop = loopnet.EarlyStopping(patience=10**6)
        loopnet.training.fit(net, X, Y, epochs, None, batch_size, optimizer=loopnet.Adam(1e-4),
                             sample_weight=w, validation=(X[:40], Y[:40]), early_stopping=stop,
                             chunk_seconds=chunk_seconds)

    fit(1, 0.1)
    counts = []
    for epochs in (10, 1000):  # one compiled call each: its allocations do not grow with the epochs
        before = rtsys.get_allocation_stats().alloc
        fit(epochs, float("inf"))
        counts.append(rtsys.get_allocation_stats().alloc - before)
    threaded = batch_size * sizes[0] * sizes[1] >= loopnet.fast.PARALLEL_MIN_WORK
    print("ALLOCS", *counts, loopnet.fast.is_small(net._sizes, batch_size), threaded)
    """
)


@pytest.mark.parametrize("path", ["tiny", "blocked"])
def test_no_allocation_inside_the_epoch_loop(path):
    """Numba's runtime allocation count for a one-call fit is the same for 10 and 1000 epochs, on both paths.

    The blocked network is big enough to take the threaded drivers (prange) where two threads exist.
    """
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    done = subprocess.run([sys.executable, "-c", ALLOC_SCRIPT, path], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    ten, thousand, small, threaded = done.stdout.split("ALLOCS")[1].split()
    assert small == str(path == "tiny")  # the network took the path it is named for
    assert threaded == str(path == "blocked")  # and the blocked one reached the prange drivers
    assert int(ten) == int(thousand)


# --- the poisson loss: scikit-learn's, and what an overflowing exp does -------------------------------


@pytest.mark.parametrize("backend", ["loops", "numpy", "plain"])
def test_poisson_loss_is_half_sklearns_mean_poisson_deviance(backend):
    """MLPRegressor(loss="poisson") minimises the half Poisson deviance of an exp output; loopnet's loss
    is that, sample weights included (an outside oracle: scikit-learn's metric, written independently)."""
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    Y = rng.poisson(np.exp(X[:, :1])).astype(float)  # zeros among them
    w = rng.integers(0, 4, 30).astype(float)
    net = loopnet.Network([3, 5, 1], activation="relu", output_activation="exp", loss="poisson",
                          backend=backend, seed=1)  # fmt: skip
    a = net.forward(X)
    assert np.all(a > 0) and (Y == 0).any()
    deviance = metrics.mean_poisson_deviance(Y[:, 0], a[:, 0])
    assert net.loss(X, Y) == pytest.approx(deviance / 2, rel=1e-12)
    weighted = metrics.mean_poisson_deviance(Y[:, 0], a[:, 0], sample_weight=w)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(weighted / 2, rel=1e-12)


@pytest.mark.parametrize("backend", ["loops", "loops-blocked", "numpy", "plain"])
def test_an_exp_output_that_overflows_stops_training(backend, monkeypatch):
    """exp is a plain exp: z above 709.78 makes it inf, silently (no NumPy warning); forward raises rather
    than return it, and the divergence check stops the fit back at the last finite parameters."""
    import warnings

    if backend == "loops-blocked":
        monkeypatch.setattr(fast, "SMALL_MAX_WORK", -1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    Y = rng.poisson(2.0, (8, 1)).astype(float)
    net = loopnet.Network([2, 3, 1], activation="tanh", output_activation="exp", loss="poisson",
                          backend=backend.removesuffix("-blocked"), seed=0)  # fmt: skip
    W, b = net.weights[1]
    net.set_weights([net.weights[0], (W, b + 800.0)])  # z > 709.78 on every row: a = inf
    before = net.params.copy()
    with pytest.raises(OverflowError, match=r"layer 2's a \(exp; row 0, unit 0 is inf\)"):
        net.forward(X)  # the kernels' inf, reported by the public function rather than returned
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(loopnet.DivergenceError, match="diverged in epoch 1 "):
            net.fit(X, Y, epochs=3, lr=0.01)
    np.testing.assert_array_equal(net.params, before)
