"""Where one training epoch of the loops goes: each compiled kernel of a batch step, timed on its own.

    python bench/breakdown.py [--cases NAME ...] [--dtype float64 float32] [--threads N] [--seconds 0.2]

For each case of ``loopnet.benchmarks`` (default: digits b32, mnist-like b256 and
784-1024-1024-10 b256) this calls, from Python, the same fast kernels that
``fast.train_epochs_fast`` calls for one batch, in the same order and with the
same choice between the one-thread and the threaded driver (``fast.use_threads``),
on buffers of the batch's shapes: the batch gather (with X.T), F1 + F2 per layer,
the loss, B1 and its transpose, B3 + B4 per layer, B2 per layer, and the
update (SGD, or Adam for an ``adam`` case). Each is timed over enough repeats to
last ``--seconds`` (best of three such runs) and scaled to a whole epoch
(batches per epoch x seconds per call). The table gives milliseconds per epoch,
the share of the sum, and for the products their rate in GFLOP/s and as a share
of the machine's multiply-add peak (all cores Numba uses; ``loopnet.machine``).

The last line compares the sum with a real epoch (``Network.fit`` of a few
epochs, after a warm-up): the difference is the per-batch bookkeeping inside
the compiled loop that the table does not show (views, the shuffle, the
history), plus a Python call (about a microsecond) per timed kernel call here.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import time
from collections.abc import Callable

import numba
import numpy as np

import loopnet
from loopnet import benchmarks, fast, kernels
from loopnet.activations import ACTIVATIONS
from loopnet.losses import LOSSES

DEFAULT_CASES = (
    "digits 64-128-10 b32",
    "mnist-like 784-256-10 b256",
    "mnist-like 784-1024-1024-10 b256",
)


def best_seconds(call: Callable[[], object], seconds: float) -> float:
    """Seconds per call: the best of three runs of enough calls to last ``seconds``."""
    call()
    reps = 1
    while True:
        start = time.perf_counter()
        for _ in range(reps):
            call()
        spent = time.perf_counter() - start
        if spent >= seconds / 10 or reps >= 1 << 20:
            break
        reps *= 4
    reps = max(1, math.ceil(reps * seconds / max(spent, 1e-9)))
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            call()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


Step = tuple[str, int, Callable[[], object]]
"""(label, FLOP per call, call) of one kernel call of a batch step."""


def steps(
    case: benchmarks.Case, dtype: np.dtype, threaded: bool
) -> list[tuple[str, int, Callable[[], object]]]:
    """(label, FLOP per call, call) for every kernel call of one batch step, in train_epochs_fast's order."""
    rng = np.random.default_rng(0)
    sizes = case.sizes
    L = len(sizes) - 1
    m = min(case.batch_size or case.rows, case.rows)
    acts = [ACTIVATIONS[case.activation]] * (L - 1) + [ACTIVATIONS[case.output_activation]]
    loss_code = LOSSES[case.loss]
    X = rng.random((case.rows, sizes[0])).astype(dtype)
    order = np.arange(case.rows)
    Xm = np.empty((m, sizes[0]), dtype)
    XmT = np.empty((sizes[0], m), dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], m)]
    sw = np.ones(m, dtype)
    W = [(rng.standard_normal((i, j)) / np.sqrt(i)).astype(dtype) for i, j in itertools.pairwise(sizes)]
    WT = [np.ascontiguousarray(w.T) for w in W]
    b = [np.zeros(j, dtype) for j in sizes[1:]]
    z = [np.empty((m, j), dtype) for j in sizes[1:]]
    a = [np.empty((m, j), dtype) for j in sizes[1:]]
    aT = [np.empty((j, m), dtype) for j in sizes[1:]]
    d = [np.empty((m, j), dtype) for j in sizes[1:]]
    dT = [np.empty((j, m), dtype) for j in sizes[1:]]
    dW = [np.empty_like(w) for w in W]
    db = [np.empty_like(v) for v in b]
    use = fast.use_threads

    out: list[Step] = []
    gather = fast.gather_transpose_par if use(threaded, 8, m, sizes[0]) else fast.gather_transpose
    out.append(("batch gather + X.T", 0, lambda: gather(X, order, 0, Xm, XmT)))
    for l in range(L):
        I, J = sizes[l], sizes[l + 1]
        a_prev = Xm if l == 0 else a[l - 1]
        aT_l = aT[l] if l < L - 1 else aT[l][:0].reshape((0, 0))
        par = use(threaded, m, I, J)
        fwd = fast.dense_forward_par if par else fast.dense_forward_fast
        call = functools.partial(fwd, a_prev, W[l], WT[l], b[l], acts[l], z[l], a[l], aT_l)
        out.append((f"F1+F2 layer {l + 1} ({I}x{J})", 2 * m * I * J, call))
    out.append(("loss", 0, lambda: kernels.loss_value(loss_code, z[-1], a[-1], Y, sw)))

    def output() -> None:
        kernels.output_delta(loss_code, acts[-1], z[-1], a[-1], Y, sw, d[-1])
        fast.transpose(d[-1], dT[-1])

    out.append(("B1 + delta.T", 0, output))
    for l in range(L - 1, -1, -1):
        I, J = sizes[l], sizes[l + 1]
        par = use(threaded, m, I, J)
        a_prevT = XmT if l == 0 else aT[l - 1]
        grad = fast.weight_grad_par if par else fast.weight_grad_fast

        def weights(g=grad, l=l, p=a_prevT) -> None:
            g(p, dT[l], d[l], dW[l])
            fast.bias_grad_fast(dT[l], db[l])

        out.append((f"B3+B4 layer {l + 1} ({I}x{J})", 2 * m * I * J, weights))
        if l > 0:
            back = fast.backprop_delta_par if par else fast.backprop_delta_fast
            args = (d[l], W[l], WT[l], acts[l - 1], z[l - 1], a[l - 1], d[l - 1], dT[l - 1])
            out.append((f"B2 layer {l + 1} ({J}->{I})", 2 * m * I * J, functools.partial(back, *args)))

    if case.optimizer == "adam":
        n = case.n_params
        w, g, decay, m1, m2 = (np.zeros(n, dtype) for _ in range(5))
        c = (case.lr, case.lr / (1 - benchmarks.ADAM_BETAS[0]), math.sqrt(1 - benchmarks.ADAM_BETAS[1]),
             *benchmarks.ADAM_BETAS, benchmarks.ADAM_EPS, 0.0)  # fmt: skip

        def update() -> None:  # as fast.update_all: the flat pass, then W.T per layer
            big = use(threaded, 8, 1, n)
            (fast.update_flat_par if big else fast.update_flat)(kernels.ADAM, w, g, decay, m1, m2, c, 0, n)
            for l in range(L):
                (fast.transpose_par if use(threaded, 8, *W[l].shape) else fast.transpose)(W[l], WT[l])

        label = "U3 Adam + W.T (all layers)"
    else:
        step = dtype.type(case.lr)

        def update() -> None:
            for l in range(L):
                b[l] -= step * db[l]
                big = use(threaded, 8, *W[l].shape)
                (fast.sgd_update_layer_par if big else fast.sgd_update_layer)(W[l], dW[l], WT[l], step)

        label = "U1 SGD + W.T (all layers)"

    out.append((label, 0, update))
    return out


def epoch_seconds(case: benchmarks.Case, dtype: str) -> float:
    """Seconds per epoch of a real fit (the loops), after a warm-up fit."""
    data = case.data()
    net = case.network(dtype=dtype)

    def rule() -> dict:  # a fresh optimizer for every fit, as a user's next fit would have
        return {"lr": case.lr} if case.optimizer == "sgd" else {"optimizer": loopnet.Adam(lr=case.lr)}

    net.fit(data.X, data.Y, epochs=1, batch_size=case.batch_size, **rule())
    epochs = 1
    while True:
        start = time.perf_counter()
        net.fit(data.X, data.Y, epochs=epochs, batch_size=case.batch_size, **rule())
        spent = time.perf_counter() - start
        if spent > 0.5 or epochs >= 1000:
            return spent / epochs
        epochs *= 2


def breakdown(case: benchmarks.Case, dtype: str, seconds: float, peak: float | None) -> str:
    """The table for one case and dtype."""
    threaded = numba.get_num_threads() > 1
    m = min(case.batch_size or case.rows, case.rows)
    batches = math.ceil(case.rows / m)
    rows = []
    for label, flop, call in steps(case, np.dtype(dtype), threaded):
        rows.append((label, flop, best_seconds(call, seconds) * batches))
    total = sum(r[2] for r in rows)
    real = epoch_seconds(case, dtype)
    lines = [
        f"{case.name}, {dtype}, batch {m}, {batches} batches per epoch, {numba.get_num_threads()} threads"
    ]
    lines.append(f"  {'step':34} {'ms/epoch':>9} {'share':>6} {'GFLOP/s':>8} {'of peak':>8}")
    for label, flop, secs in rows:
        rate = flop * batches / secs / 1e9 if flop else None
        rate_s = f"{rate:8.1f}" if rate else " " * 8
        peak_s = f"{rate / peak:8.0%}" if rate and peak else " " * 8
        lines.append(f"  {label:34} {secs * 1e3:9.3f} {secs / total:6.1%} {rate_s} {peak_s}")
    products = case.flops / total / 1e9
    lines.append(f"  {'sum of the steps':34} {total * 1e3:9.3f}         {products:8.1f}")
    lines.append(f"  {'a real epoch (Network.fit)':34} {real * 1e3:9.3f}  ({real / total:.2f}x the sum)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES))
    parser.add_argument("--dtype", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", type=int, default=None, help="Numba threads (default: Numba's)")
    parser.add_argument("--seconds", type=float, default=0.2)
    args = parser.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    try:
        from loopnet import machine

        info = machine.machine_info()
        print(machine.machine_line(info))
        peaks = info["peak_gflops"] or {}
    except ImportError:
        peaks = {}
    for name in args.cases:
        case = benchmarks.find_case(name)
        for dtype in args.dtype:
            peak = peaks.get(dtype)
            print(breakdown(case, dtype, args.seconds, peak * numba.get_num_threads() if peak else None))
            print()


if __name__ == "__main__":
    main()
