"""Two trainers a competent engineer would write instead of using loopnet: lean NumPy and JAX.

The benchmarks (``loopnet bench``) race loopnet's loops against these, so that the
vectorized side of the race is as fast as a person who knows NumPy or JAX would make it,
not only loopnet's own NumPy twin (which mirrors the loop kernels one function each):

* :class:`LeanNumpy` -- ``numpy-lean``: one hand-written minibatch step. Every buffer is
  allocated once per fit, every product goes to BLAS through ``np.matmul(..., out=)``,
  every element-wise step is an in-place ufunc; parameters, gradients and the Adam
  moments are flat arrays (per-layer views), so an update is a handful of ufunc calls
  whatever the depth. It imports nothing of loopnet's math.
* :class:`JaxMLP` -- ``jax``: the whole fit is one ``jax.jit`` program: ``lax.scan`` over
  epochs and, inside, over minibatches; ``jax.value_and_grad`` of the loss; the update
  as a tree map. Compilation is paid and timed apart (:attr:`JaxMLP.compile_seconds`),
  before the timed call.

Both compute what loopnet computes (docs/design.md): the initial weights of
``Network(..., init="auto", seed=seed)`` (He normal for relu and leaky_relu layers,
Glorot uniform for the others, drawn in the same order: :func:`initial_weights`),
F1-F2 forward, B1-B4 backward, the losses as defined there (mean losses averaged over
the batch, sse summed), plain SGD (U1: ``w -= lr * dw``) or Adam (U3, torch's rule),
and the epoch loss loopnet records (each batch's loss before its update, weighted by
the batch's rows, summed for sse). Sample weights are all ones; cross-entropy targets
are one-hot rows (each row sums to 1). tests/test_contenders.py holds their weights
equal to ``Network(..., backend="loops")``'s after a few epochs: the proof the race is fair.

Batch order: :class:`LeanNumpy` draws the shuffle seed where loopnet's ``fit`` draws it
and shuffles with loopnet's own generator (``loopnet.kernels.shuffle``, compiled, the one
both loopnet backends call), so it visits loopnet's minibatches in loopnet's order.
:class:`JaxMLP` shuffles inside the program with ``jax.random.permutation`` (what a JAX
user writes), or takes the orders as an array (:func:`loopnet_orders`) for the test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from .kernels import shuffle as _loopnet_shuffle

HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
LOSS_OUTPUTS = {"sse": None, "mse": None, "bce": "sigmoid", "cross_entropy": "softmax"}
"""Loss -> the output activation it needs (None: any of :data:`HIDDEN`)."""

LEAKY_SLOPE = 0.01


def _check_model(sizes: Sequence[int], activation: str, output_activation: str, loss: str,
                 optimizer: str) -> None:  # fmt: skip
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output layer, got {list(sizes)}")
    if activation not in HIDDEN:
        raise ValueError(f"hidden activation {activation!r} is not one of {', '.join(HIDDEN)}")
    if loss not in LOSS_OUTPUTS:
        raise ValueError(f"loss {loss!r} is not one of {', '.join(LOSS_OUTPUTS)}")
    needed = LOSS_OUTPUTS[loss]
    if needed is not None and output_activation != needed:
        raise ValueError(f"loss {loss!r} needs output_activation {needed!r}, got {output_activation!r}")
    if needed is None and output_activation not in HIDDEN:
        raise ValueError(f"output activation {output_activation!r} with {loss!r}: one of {', '.join(HIDDEN)}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")


def initial_weights(
    sizes: Sequence[int], activation: str, output_activation: str, seed: int, dtype
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.random.Generator]:
    """loopnet's ``init="auto"`` weights for ``seed``, and the generator after drawing them.

    Layer by layer, from ``np.random.default_rng(seed)``: He normal (std sqrt(2 / fan_in))
    for relu and leaky_relu layers, Glorot uniform (limit sqrt(6 / (fan_in + fan_out)))
    for the others; biases zero. Drawn in float64 and rounded to ``dtype``, as loopnet
    stores them. The generator is returned because loopnet draws each fit's shuffle seed
    from it next.
    """
    rng = np.random.default_rng(seed)
    L = len(sizes) - 1
    weights = []
    for l in range(L):
        fan_in, fan_out = sizes[l], sizes[l + 1]
        act = activation if l < L - 1 else output_activation
        if act in ("relu", "leaky_relu"):
            W = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-limit, limit, (fan_in, fan_out))
        weights.append((W.astype(dtype), np.zeros(fan_out, dtype=dtype)))
    return weights, rng


def shuffle_seed(rng: np.random.Generator) -> int:
    """The seed of one fit's shuffle generator, drawn as loopnet's ``fit`` draws it."""
    return int(rng.integers(1, 2**31 - 1))


def loopnet_orders(seed: int, rows: int, epochs: int) -> np.ndarray:
    """(epochs, rows) int64: the row order of each epoch of a loopnet fit whose shuffle seed is ``seed``.

    loopnet starts each fit from rows in order and shuffles that same array in place at
    the start of every epoch (when there is more than one batch).
    """
    order = np.arange(rows, dtype=np.int64)
    state = np.array([seed], dtype=np.int64)
    orders = np.empty((epochs, rows), dtype=np.int64)
    for e in range(epochs):
        _loopnet_shuffle(order, state)
        orders[e] = order
    return orders


# --- numpy-lean ---------------------------------------------------------------------------------


class LeanNumpy:
    """A minimal NumPy MLP trainer: preallocated buffers, BLAS with ``out=``, in-place ufuncs.

    ``optimizer`` is ``"sgd"`` (U1) or ``"adam"`` (U3, ``betas`` and ``eps``); the
    state (Adam's moments and step count, the generator) carries over from one
    :meth:`fit` to the next, like one loopnet network fitted twice with the same
    optimizer object.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str,
        output_activation: str,
        loss: str,
        lr: float,
        optimizer: str = "sgd",
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        dtype="float64",
        seed: int = 0,
    ) -> None:
        _check_model(sizes, activation, output_activation, loss, optimizer)
        self.sizes = tuple(int(s) for s in sizes)
        self.dtype = np.dtype(dtype)
        L = len(self.sizes) - 1
        self.acts = [activation] * (L - 1) + [output_activation]
        self.loss = loss
        self.lr, self.optimizer, self.betas, self.eps = float(lr), optimizer, betas, float(eps)
        # flat parameters and gradients, with (W, b) views per layer: one update for all layers
        n_params = sum(i * j + j for i, j in zip(self.sizes[:-1], self.sizes[1:]))
        self.params = np.empty(n_params, dtype=self.dtype)
        self.grads = np.empty_like(self.params)
        self.layers = self._views(self.params)
        self.grad_layers = self._views(self.grads)
        weights, self.rng = initial_weights(self.sizes, activation, output_activation, seed, self.dtype)
        for (W, b), (W0, b0) in zip(self.layers, weights):
            W[...], b[...] = W0, b0
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)
        self.tmp = np.empty_like(self.params)
        self.step = 0

    def _views(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        views, off = [], 0
        for I, J in zip(self.sizes[:-1], self.sizes[1:]):
            views.append((flat[off : off + I * J].reshape(I, J), flat[off + I * J : off + I * J + J]))
            off += I * J + J
        return views

    @property
    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """A copy of the parameters, ``[(W, b), ...]`` as ``loopnet.Network.weights``."""
        return [(W.copy(), b.copy()) for W, b in self.layers]

    def _buffers(self, rows: int) -> dict:
        """Work arrays for a batch of ``rows`` rows: z, a, delta and a mask or scratch per layer."""
        n0, nL = self.sizes[0], self.sizes[-1]
        dt = self.dtype
        return {
            "X": np.empty((rows, n0), dt),
            "Y": np.empty((rows, nL), dt),
            "z": [np.empty((rows, J), dt) for J in self.sizes[1:]],
            "a": [np.empty((rows, J), dt) for J in self.sizes[1:]],
            "d": [np.empty((rows, J), dt) for J in self.sizes[1:]],
            "s": [np.empty((rows, J), dt) for J in self.sizes[1:]],  # f'(z) or exp scratch
            "mask": [np.empty((rows, J), bool) for J in self.sizes[1:]],
            "row_max": np.empty((rows, 1), dt),
            "row_sum": np.empty((rows, 1), dt),
        }

    def fit(self, X: np.ndarray, Y: np.ndarray, epochs: int, batch_size: int | None = None,
            shuffle: bool = True) -> np.ndarray:  # fmt: skip
        """Train for ``epochs`` epochs; returns each epoch's loss (float64, as loopnet's history)."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        Y = np.ascontiguousarray(Y, dtype=self.dtype)
        N = X.shape[0]
        B = N if batch_size is None else min(int(batch_size), N)
        seed = shuffle_seed(self.rng)  # drawn even when unused, as loopnet does
        order = np.arange(N, dtype=np.int64)
        state = np.array([seed], dtype=np.int64)
        full = self._buffers(B)
        rest = N % B
        last = self._buffers(rest) if rest else None
        losses = np.empty(epochs)
        mean_loss = self.loss != "sse"
        for e in range(epochs):
            if shuffle and B < N:
                _loopnet_shuffle(order, state)
            total = 0.0
            for start in range(0, N, B):
                rows = order[start : start + B]
                buf = full if rows.shape[0] == B else last
                if B == N:
                    Xm, Ym = X, Y  # one batch in row order: no gather needed
                else:
                    Xm, Ym = buf["X"], buf["Y"]
                    # rows of a permutation are in range; the default mode="raise" copies through a
                    # temporary when given out=
                    X.take(rows, axis=0, out=Xm, mode="clip")
                    Y.take(rows, axis=0, out=Ym, mode="clip")
                batch_loss = self._step(Xm, Ym, buf)
                total += batch_loss * (rows.shape[0] / N) if mean_loss else batch_loss
            losses[e] = total
        return losses

    def _step(self, X: np.ndarray, Y: np.ndarray, buf: dict) -> float:
        """Forward, loss, backward and one update on one batch; returns the batch loss."""
        L = len(self.layers)
        zs, as_, ds, ss, masks = buf["z"], buf["a"], buf["d"], buf["s"], buf["mask"]
        # F1, F2
        a_prev = X
        for l, (W, b) in enumerate(self.layers):
            z, a = zs[l], as_[l]
            np.matmul(a_prev, W, out=z)
            z += b
            self._activate(self.acts[l], z, a, masks[l], ss[l], buf)
            a_prev = a
        loss = self._loss_and_output_delta(Y, zs[-1], as_[-1], ds[-1], ss[-1], buf)
        # B3, B4, B2 from the last layer to the first
        for l in range(L - 1, -1, -1):
            dW, db = self.grad_layers[l]
            a_prev = X if l == 0 else as_[l - 1]
            np.matmul(a_prev.T, ds[l], out=dW)
            np.add.reduce(ds[l], axis=0, out=db)
            if l > 0:
                np.matmul(ds[l], self.layers[l][0].T, out=ds[l - 1])
                self._times_derivative(self.acts[l - 1], ds[l - 1], as_[l - 1], masks[l - 1], ss[l - 1])
        self._update()
        return loss

    @staticmethod
    def _activate(act: str, z, a, mask, scratch, buf) -> None:
        """F2 in place; relu and leaky_relu keep the mask z > 0 for B2."""
        if act == "relu":
            np.greater(z, 0, out=mask)
            np.multiply(z, mask, out=a)
        elif act == "leaky_relu":
            np.greater(z, 0, out=mask)
            np.multiply(z, LEAKY_SLOPE, out=a)
            np.copyto(a, z, where=mask)
        elif act == "sigmoid":
            # exp of -|z| only: exp(-1000) is 0, never an overflow; a = 1 / (1 + e) or e / (1 + e)
            np.greater_equal(z, 0, out=mask)
            np.abs(z, out=a)
            np.negative(a, out=a)
            np.exp(a, out=a)
            np.add(a, 1.0, out=scratch)
            np.copyto(a, 1.0, where=mask)
            a /= scratch
        elif act == "tanh":
            np.tanh(z, out=a)
        elif act == "softmax":
            m, s = buf["row_max"], buf["row_sum"]
            np.maximum.reduce(z, axis=1, keepdims=True, out=m)
            np.subtract(z, m, out=a)
            np.exp(a, out=a)
            np.add.reduce(a, axis=1, keepdims=True, out=s)
            a /= s
        else:
            np.copyto(a, z)

    @staticmethod
    def _times_derivative(act: str, d, a, mask, scratch) -> None:
        """d *= f'(z), from the mask or from a = f(z)."""
        if act == "relu":
            d *= mask
        elif act == "leaky_relu":
            np.multiply(d, LEAKY_SLOPE, out=scratch)
            np.logical_not(mask, out=mask)  # the forward pass sets it anew
            np.copyto(d, scratch, where=mask)
        elif act == "sigmoid":  # a (1 - a)
            np.subtract(1.0, a, out=scratch)
            scratch *= a
            d *= scratch
        elif act == "tanh":  # 1 - a^2
            np.multiply(a, a, out=scratch)
            np.subtract(1.0, scratch, out=scratch)
            d *= scratch

    def _loss_and_output_delta(self, Y, z, a, d, scratch, buf) -> float:
        """The batch loss (float) and B1: d = (a - Y) * c, times f'(z) unless the pair is canonical."""
        rows, K = a.shape
        if self.loss == "cross_entropy":
            # rows of Y sum to 1: row loss = lse - sum_k y z, lse = max + log(sum exp(z - max))
            m, s = buf["row_max"], buf["row_sum"]  # still those of the softmax
            np.log(s, out=s)
            s += m
            np.subtract(s, z, out=scratch)
            scratch *= Y
            loss = float(np.add.reduce(scratch, axis=None, dtype=np.float64)) / rows
            np.subtract(a, Y, out=d)
            d *= 1.0 / rows
            return loss
        if self.loss == "bce":
            # max(z, 0) - y z + log(1 + exp(-|z|)): finite when a rounds to 0 or 1
            np.abs(z, out=scratch)
            np.negative(scratch, out=scratch)
            np.exp(scratch, out=scratch)
            np.log1p(scratch, out=scratch)
            np.maximum(z, 0.0, out=d)  # d as scratch until the delta
            scratch += d
            np.multiply(Y, z, out=d)
            scratch -= d
            loss = float(np.add.reduce(scratch, axis=None, dtype=np.float64)) / (rows * K)
            np.subtract(a, Y, out=d)
            d *= 1.0 / (rows * K)
            return loss
        np.subtract(a, Y, out=d)
        squares = float(np.vdot(d.astype(np.float64, copy=False), d))
        if self.loss == "sse":
            loss = 0.5 * squares
        else:
            loss = squares / (rows * K)
            d *= 2.0 / (rows * K)
        self._times_derivative(self.acts[-1], d, a, buf["mask"][-1], scratch)
        return loss

    def _update(self) -> None:
        """U1 or U3 on the flat parameters."""
        p, g, tmp = self.params, self.grads, self.tmp
        self.step += 1
        if self.optimizer == "sgd":
            np.multiply(g, self.lr, out=tmp)
            p -= tmp
            return
        beta1, beta2 = self.betas
        t = self.step
        step_size = self.lr / (1.0 - beta1**t)
        root_c2 = math.sqrt(1.0 - beta2**t)
        m, v = self.m, self.v
        np.subtract(g, m, out=tmp)  # m += (1 - beta1) (g - m)
        tmp *= 1.0 - beta1
        m += tmp
        v *= beta2  # v = beta2 v + (1 - beta2) g g
        np.multiply(g, 1.0 - beta2, out=tmp)
        tmp *= g
        v += tmp
        np.sqrt(v, out=tmp)  # p -= step_size m / (sqrt(v) / sqrt(c2) + eps)
        tmp /= root_c2
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        p -= tmp


# --- jax ----------------------------------------------------------------------------------------


def import_jax():
    """jax with float64 enabled, or ImportError (jax is an optional extra: ``pip install jax``)."""
    import jax

    jax.config.update("jax_enable_x64", True)  # else every float64 array silently becomes float32
    return jax


class JaxMLP:
    """The whole fit as one ``jax.jit`` program: ``lax.scan`` over epochs, and over batches inside.

    Same model, losses and updates as :class:`LeanNumpy`; parameters are a list of
    ``(W, b)`` pairs on the JAX CPU device. A program is compiled once per (epochs, rows,
    orders given or not) and kept; :meth:`compile` does it ahead of a timed :meth:`fit`
    and :attr:`compile_seconds` says how long the compile of the last program asked for took.

    Shuffling: with ``orders`` (an (epochs, rows) array: :func:`loopnet_orders`) the
    batches follow it; without, each epoch draws ``jax.random.permutation`` inside the
    program (one batch covering every row is never shuffled, as in loopnet).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str,
        output_activation: str,
        loss: str,
        lr: float,
        optimizer: str = "sgd",
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        dtype="float64",
        seed: int = 0,
        batch_size: int | None = None,
    ) -> None:
        _check_model(sizes, activation, output_activation, loss, optimizer)
        jax = import_jax()
        self.jax = jax
        self.jnp = jax.numpy
        self.sizes = tuple(int(s) for s in sizes)
        self.dtype = np.dtype(dtype)
        self.activation, self.output_activation, self.loss = activation, output_activation, loss
        self.lr, self.optimizer, self.betas, self.eps = float(lr), optimizer, betas, float(eps)
        self.batch_size = batch_size
        self.seed = seed
        self.compile_times: dict[tuple, float] = {}
        self.compile_seconds: float | None = None
        self._programs: dict = {}
        self._data: dict = {}
        self.reset()

    def reset(self) -> None:
        """Fresh initial weights, optimizer state and generator; compiled programs are kept."""
        jax, jnp = self.jax, self.jnp
        acts = (self.activation, self.output_activation)
        weights, _ = initial_weights(self.sizes, *acts, self.seed, self.dtype)
        self.params = [(jax.device_put(W), jax.device_put(b)) for W, b in weights]
        zeros = [(jnp.zeros_like(W), jnp.zeros_like(b)) for W, b in self.params]
        self.state = (zeros, zeros, jnp.zeros((), dtype=jnp.int64))  # m, v, step
        self.key = jax.random.key(self.seed)

    @property
    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The parameters as NumPy arrays, ``[(W, b), ...]``."""
        return [(np.asarray(W), np.asarray(b)) for W, b in self.params]

    # the model, as pure functions of arrays

    def _act(self, name: str, z):
        jnp = self.jnp
        if name == "sigmoid":
            return self.jax.nn.sigmoid(z)
        if name == "tanh":
            return jnp.tanh(z)
        if name == "relu":
            return self.jax.nn.relu(z)  # its derivative at 0 is 0, as loopnet's; jnp.maximum's is 1/2
        if name == "leaky_relu":
            return jnp.where(z > 0, z, LEAKY_SLOPE * z)
        return z

    def _batch_loss(self, params, X, Y):
        """The loss of one batch (docs/design.md), from the logits for bce and cross_entropy."""
        jnp = self.jnp
        a = X
        L = len(params)
        for l, (W, b) in enumerate(params):
            z = a @ W + b
            a = self._act(self.activation, z) if l < L - 1 else z
        z = a
        rows, K = Y.shape
        if self.loss == "cross_entropy":
            lse = self.jax.nn.logsumexp(z, axis=1, keepdims=True)
            return jnp.sum(Y * (lse - z)) / rows
        if self.loss == "bce":
            # softplus(z) - y z; logaddexp's derivative is sigmoid(z) at z = 0 too, where those of
            # max(z, 0) and |z| in the written-out form are 1/2 and 1
            return jnp.sum(jnp.logaddexp(z, 0.0) - Y * z) / (rows * K)
        a = self._act(self.output_activation, z)
        if self.loss == "sse":
            return 0.5 * jnp.sum((a - Y) ** 2)
        return jnp.sum((a - Y) ** 2) / (rows * K)

    def _update(self, params, grads, state):
        tree = self.jax.tree_util.tree_map
        lr = self.lr
        m, v, t = state
        t = t + 1
        if self.optimizer == "sgd":
            return tree(lambda p, g: p - lr * g, params, grads), (m, v, t)
        beta1, beta2 = self.betas
        step_size = lr / (1.0 - beta1**t)
        root_c2 = self.jnp.sqrt(1.0 - beta2**t)
        m = tree(lambda m, g: m + (1.0 - beta1) * (g - m), m, grads)
        v = tree(lambda v, g: beta2 * v + (1.0 - beta2) * g * g, v, grads)
        dt = self.dtype
        params = tree(
            lambda p, m, v: p - (step_size * (m / (self.jnp.sqrt(v) / root_c2 + self.eps))).astype(dt),
            params, m, v,
        )  # fmt: skip
        return params, (m, v, t)

    def _program(self, epochs: int, rows: int, with_orders: bool):
        """The jitted fit: (params, state, key, X, Y, orders) -> (params, state, key, losses)."""
        jax, jnp, lax = self.jax, self.jnp, self.jax.lax
        B = rows if self.batch_size is None else min(self.batch_size, rows)
        full, rest = divmod(rows, B)
        shuffle = B < rows
        mean_loss = self.loss != "sse"
        grad = jax.value_and_grad(self._batch_loss)

        def step(carry, idx):
            params, state, X, Y = carry
            loss, grads = grad(params, X[idx], Y[idx]) if idx is not None else grad(params, X, Y)
            params, state = self._update(params, grads, state)
            weight = idx.shape[0] / rows if (mean_loss and idx is not None) else 1.0
            return (params, state, X, Y), loss * weight

        def epoch(carry, order_or_key):
            params, state, X, Y = carry
            if not shuffle:
                (params, state, _, _), loss = step((params, state, X, Y), None)
                return (params, state, X, Y), loss
            order = order_or_key if with_orders else jax.random.permutation(order_or_key, rows)
            batches = order[: full * B].reshape(full, B)
            (params, state, _, _), losses = lax.scan(step, (params, state, X, Y), batches)
            total = jnp.sum(losses)
            if rest:
                (params, state, _, _), last = step((params, state, X, Y), order[full * B :])
                total = total + last
            return (params, state, X, Y), total

        def fit(params, state, key, X, Y, orders):
            if with_orders:
                xs = orders
            else:
                key, sub = jax.random.split(key)
                xs = jax.random.split(sub, epochs)
            (params, state, _, _), losses = lax.scan(epoch, (params, state, X, Y), xs, length=epochs)
            return params, state, key, losses

        return jax.jit(fit)

    def _device_data(self, X: np.ndarray, Y: np.ndarray):
        key = (X.ctypes.data, X.shape, Y.ctypes.data, Y.shape)
        if key not in self._data:  # the rows go to the device once, not in every timed fit
            self._data = {key: (self.jax.device_put(np.asarray(X, self.dtype)),
                                self.jax.device_put(np.asarray(Y, self.dtype)))}  # fmt: skip
        return self._data[key]

    def _args(self, X, Y, orders):
        Xd, Yd = self._device_data(X, Y)
        o = self.jnp.zeros((0,), self.jnp.int64) if orders is None else self.jnp.asarray(orders)
        return self.params, self.state, self.key, Xd, Yd, o

    def compile(self, X: np.ndarray, Y: np.ndarray, epochs: int, orders: np.ndarray | None = None):
        """The compiled program for this fit, compiled now if new; :attr:`compile_seconds` is what it took."""
        sig = (epochs, X.shape[0], orders is not None)
        if sig not in self._programs:
            start = time.perf_counter()
            program = self._program(*sig)
            self._programs[sig] = program.lower(*self._args(X, Y, orders)).compile()
            self.compile_times[sig] = time.perf_counter() - start
        self.compile_seconds = self.compile_times[sig]
        return self._programs[sig]

    def fit(self, X: np.ndarray, Y: np.ndarray, epochs: int, orders: np.ndarray | None = None) -> np.ndarray:
        """Train for ``epochs`` epochs (compiling first if needed); returns each epoch's loss."""
        program = self.compile(X, Y, epochs, orders)
        params, state, key, losses = program(*self._args(X, Y, orders))
        self.params, self.state, self.key = params, state, key
        return np.asarray(losses.block_until_ready(), dtype=np.float64)
