"""The speed targets of the training issue (7), timed directly: one table of ratios, and the machine.

    python bench/overheads.py [--repeat 5] [--seconds 0.25] [--long 1.5]

The same comparisons as ``bench/test_bench_overheads.py``, without pytest. Every
fit is timed with ``time.perf_counter`` after a warm-up fit (so compile time is
not counted); the fits compared on a row run in turn, round after round (so a
slow spell of a shared machine hits all of them), and the row shows the median
of each; its ratio is the quotient of those medians. About a minute and a half
on two cores.

Each row says how many Numba threads ran it: Numba's default (the cores), and
again with one thread where threads can matter. On a shared machine with
another process busy on the other core, a parallel region can wait
milliseconds for its second thread to be scheduled, so the one-thread rows are
the ones to compare then. (A digits epoch at batch 32 never goes parallel:
loopnet's products start threads from 2**19 multiply-adds, which a 32-row batch
does not reach; the forward pass over the 360 validation rows does. The tiny
networks never start threads, so they run once.)

The targets (measured, not asserted: on a shared machine one run can miss by noise):

1. Adam at digits 64-128-10, batch 32, costs at most 1.3x an SGD epoch
   (``loops``, float64: "digits 64-128-10 b32" and its ``adam`` twin in
   ``loopnet.benchmarks``, the same epochs).
2. A loops Adam epoch is at least 2x faster than a PyTorch Adam loop and than
   scikit-learn's ``adam`` solver: the ``torch`` and ``sklearn`` contenders of
   ``loopnet.benchmarks`` on "digits 64-128-10 b32 adam", the same network and
   batch, and the same epochs unless a contender is so slow that
   :data:`SLOW_BUDGET` allows fewer (the row says so). With the default threads
   every library has its own (what ``loopnet bench`` runs); the one-thread row
   holds Numba, PyTorch (``torch.set_num_threads(1)``) and BLAS and OpenMP
   (threadpoolctl) to one thread each.
3. On the articles' networks ("and 2-2-1", "three-bit 3-5-1", "perceptron
   3-1", "xor 2-8-1", full batch) an Adam epoch costs at most 1.5x an SGD one.
4. Validation adds at most the cost of one forward pass over the validation
   rows: digits split into 1437 training and 360 validation rows, SGD at batch
   32, each fit in one compiled call (``chunk_seconds=math.inf``). The extra
   seconds per epoch (median fit with ``validation=`` minus median fit without,
   over the epochs) are divided by the seconds of the compiled forward pass
   over the 360 rows (``loopnet.fast.forward_pass`` into preallocated buffers:
   ``Network.forward`` without its checks and copies, also shown). The
   validation also computes the loss of those rows, and it is the difference
   of two noisy times: a few tenths of a millisecond either way is noise.
5. Chunks + a no-op callback + the progress bar cost under 5% of an
   uninterrupted run: ``Network.fit(..., callbacks=[f], progress=True)`` (chunks
   of about 0.1 s; the bar is written to a StringIO) against
   ``loopnet.training.fit(..., chunk_seconds=math.inf)``, the same epochs,
   each run lasting about ``--long`` seconds; on "xor 2-8-1" (tiny, full
   batch) and on digits at batch 32. "measured" gives the chunks (callback
   calls) per run: each costs under 0.1 ms of Python and dispatch, so at 10 to
   20 chunks per run anything beyond a fraction of a percent is the machine.
6. fit's fixed cost (checks, buffers, history, the first chunk's call) is at most 1 ms plus one pass
   over the data, for a digits-sized float64 C-contiguous X: ``fit(epochs=1)`` minus one compiled
   epoch, over ``X.sum()`` + 1 ms (``fixed_cost``).

"met" compares the ratio with the goal; "-" where a library is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numba
import numpy as np

import loopnet
from loopnet import benchmarks, fast, training

ARTICLES = ("and 2-2-1", "three-bit 3-5-1", "perceptron 3-1", "xor 2-8-1")
DIGITS = "digits 64-128-10 b32"
VALIDATION_ROWS = 360
FEW_ROUNDS = 3
"""Rounds of target 2 (PyTorch and scikit-learn are the slow ones) and of target 5 (long fits)."""
SLOW_BUDGET = 6.0
"""Seconds a contender's timed fits of target 2 may take in all: fewer epochs than loops' if needed."""


# --- timing ---------------------------------------------------------------------------------------


def interleaved(runs: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median seconds of each run; each callable times itself, and they go in turn, round after round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(run())
    return {name: statistics.median(t) for name, t in times.items()}


def trainer_fit(trainer: benchmarks.Trainer, epochs: int) -> Callable[[], float]:
    """Seconds of a fit of ``epochs`` on fresh weights (``benchmarks.time_fit``: building them is untimed)."""
    return lambda: benchmarks.time_fit(trainer, epochs)


def epochs_lasting(trainer: benchmarks.Trainer, seconds: float) -> int:
    """Warm the trainer up, then the epochs a fit needs to last ``seconds`` (``benchmarks.choose_epochs``)."""
    trainer.warm_up()
    return benchmarks.choose_epochs(trainer, seconds)[0]


@contextlib.contextmanager
def torch_threads(n: int):
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class OneThread(benchmarks.Trainer):
    """A contender's trainer whose fits run with one thread: PyTorch's, or BLAS's and OpenMP's."""

    def __init__(self, inner: benchmarks.Trainer, limit: Callable[[], contextlib.AbstractContextManager]):
        self.inner, self.limit = inner, limit
        self.case, self.batch_size = inner.case, inner.batch_size

    def new_model(self) -> None:
        self.inner.new_model()

    def fit(self, epochs: int) -> int:
        with self.limit():
            return self.inner.fit(epochs)

    def warm_up(self) -> None:
        with self.limit():
            self.inner.warm_up()


def one_thread(trainer: benchmarks.Trainer, contender: str) -> benchmarks.Trainer:
    if contender == "torch":
        return OneThread(trainer, lambda: torch_threads(1))
    from threadpoolctl import threadpool_limits

    return OneThread(trainer, lambda: threadpool_limits(limits=1))


# --- the rows -------------------------------------------------------------------------------------


class Row:
    def __init__(self, target: str, threads: int, what: str, measured: str, ratio: float | None, goal: str):
        self.target, self.threads, self.what, self.measured = target, threads, what, measured
        self.ratio, self.goal = ratio, goal

    @property
    def met(self) -> str:
        if self.ratio is None:
            return "-"
        bound = float(self.goal.split()[1].rstrip("x%")) / (100.0 if self.goal.endswith("%") else 1.0)
        ok = self.ratio <= bound if self.goal.startswith("<=") else self.ratio >= bound
        return "yes" if ok else "NO"

    def cells(self) -> list[str]:
        if self.ratio is None:
            ratio = "-"
        elif self.goal.endswith("%"):
            ratio = f"{100 * self.ratio:+.1f}%"
        else:
            ratio = f"{self.ratio:.2f}x"
        return [self.target, str(self.threads), self.what, self.measured, ratio, self.goal, self.met]


def ms(seconds: float) -> str:
    return benchmarks.format_seconds(seconds)


def adam_vs_sgd(name: str, target: str, goal: str, threads: int, seconds: float, rounds: int) -> Row:
    """Targets 1 and 3: the loops contender on a case and on its Adam twin, the same epochs."""
    with benchmarks.numba_threads(threads):
        sgd = benchmarks.make_trainer(benchmarks.CASES[name], "loops", "float64")
        adam = benchmarks.make_trainer(benchmarks.CASES[f"{name} adam"], "loops", "float64")
        adam.warm_up()
        epochs = epochs_lasting(sgd, seconds)
        t = interleaved({"sgd": trainer_fit(sgd, epochs), "adam": trainer_fit(adam, epochs)}, rounds)
    per = {k: v / epochs for k, v in t.items()}
    return Row(
        target,
        threads,
        f"Adam / SGD epoch, {name}",
        f"{ms(per['adam'])} / {ms(per['sgd'])} per epoch",
        per["adam"] / per["sgd"],
        goal,
    )


def against_contenders(threads: int, default: bool, seconds: float, rounds: int) -> list[Row]:
    """Target 2: torch and sklearn Adam against loops Adam, per epoch; ``default``: every library's threads.

    Otherwise Numba, PyTorch, BLAS and OpenMP are all held to one thread.
    """
    case = benchmarks.CASES[f"{DIGITS} adam"]
    rows, runs, epochs_of = [], {}, {}
    with benchmarks.numba_threads(threads):
        loops = benchmarks.make_trainer(case, "loops", "float64")
        epochs = epochs_lasting(loops, seconds)
        runs["loops"], epochs_of["loops"] = trainer_fit(loops, epochs), epochs
        for contender in ("torch", "sklearn"):
            try:
                trainer = benchmarks.make_trainer(case, contender, "float64")
                if not default:
                    trainer = one_thread(trainer, contender)
            except (benchmarks.Unavailable, ImportError) as why:
                rows.append(Row("2", threads, f"{contender} Adam / loops Adam epoch, {DIGITS}",
                                f"not run: {why}", None, ">= 2x"))  # fmt: skip
                continue
            trainer.warm_up()
            probe = benchmarks.time_fit(trainer, 1)  # one epoch: is the same count affordable?
            n = max(1, min(epochs, int(SLOW_BUDGET / (rounds * probe))))
            runs[contender], epochs_of[contender] = trainer_fit(trainer, n), n
        t = interleaved(runs, rounds)
    per = {name: t[name] / epochs_of[name] for name in runs}
    for contender in runs:
        if contender == "loops":
            continue
        n = epochs_of[contender]
        note = "" if n == epochs else f" ({n} of {epochs} epochs: slow)"
        measured = f"{ms(per[contender])} / {ms(per['loops'])} per epoch{note}"
        what = f"{contender} Adam / loops Adam epoch, {DIGITS}"
        rows.append(Row("2", threads, what, measured, per[contender] / per["loops"], ">= 2x"))
    return rows


def _digits_net() -> loopnet.Network:
    return loopnet.Network([64, 128, 10], activation="relu", output_activation="softmax",
                           loss="cross_entropy", backend="loops", dtype="float64", seed=0)  # fmt: skip


def validation_cost(threads: int, seconds: float, rounds: int) -> Row:
    """Target 4: the extra seconds per epoch of validation=(Xv, Yv), against one forward pass over Xv."""
    data = benchmarks.CASES[DIGITS].data()
    n = data.X.shape[0] - VALIDATION_ROWS
    X, Y = data.X[:n], data.Y[:n]
    Xv, Yv = np.ascontiguousarray(data.X[n:]), np.ascontiguousarray(data.Y[n:])

    def fit(epochs: int, validation) -> Callable[[], float]:
        def run() -> float:
            net = _digits_net()
            start = time.perf_counter()
            training.fit(net, X, Y, epochs, 0.1, 32, validation=validation, chunk_seconds=math.inf)
            return time.perf_counter() - start

        return run

    net = _digits_net()
    zbuf, abuf, _ = net._work(Xv.shape[0])

    def forwards(calls: int, public: bool) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                if public:
                    net.forward(Xv)
                else:
                    fast.forward_pass(net.params, net._sizes, net._acts, Xv, zbuf, abuf)
            return time.perf_counter() - start

        return run

    with benchmarks.numba_threads(threads):
        fit(1, (Xv, Yv))()  # warm-up: compiles the validation loss too
        epochs = max(1, round(seconds / fit(2, None)() * 2))
        t = interleaved({"without": fit(epochs, None), "with": fit(epochs, (Xv, Yv))}, rounds)
        calls = max(3, round(0.1 / forwards(3, False)() * 3))
        f = interleaved({"compiled": forwards(calls, False), "forward": forwards(calls, True)}, rounds)
    extra = (t["with"] - t["without"]) / epochs
    compiled, public = f["compiled"] / calls, f["forward"] / calls
    return Row(
        "4",
        threads,
        f"validation's extra per epoch / forward pass, {VALIDATION_ROWS} digits rows",
        f"{ms(extra)} / {ms(compiled)} (Network.forward {ms(public)}; an epoch {ms(t['without'] / epochs)})",
        extra / compiled,
        "<= 1x",
    )


def fixed_cost(rounds: int) -> Row:
    """Target 6: what fit costs before (and around) its first epoch, against one pass over the data.

    Digits-sized float64 C-contiguous X (1797 x 64) and one-hot Y, 64-128-10 at batch 32: the median
    ``Network.fit(epochs=1)`` minus the median compiled epoch (``fast.train_epochs`` on a run built
    once), interleaved; cross-checked by ``fit(epochs=0)`` (every check and allocation, no epoch).
    The pass over the data is ``X.sum()``.
    """
    rng = np.random.default_rng(0)
    X = rng.random((1797, 64))
    Y = np.eye(10)[rng.integers(0, 10, 1797)]
    net = _digits_net()
    net.fit(X, Y, epochs=1, lr=0.01, batch_size=32)  # compiled (or loaded) before timing
    state, opt, run = training._setup(net, X, Y, 1, 0.01, 32, None, None, True, None, None, None)

    def timed(call: Callable[[], object]) -> Callable[[], float]:
        def run_once() -> float:
            start = time.perf_counter()
            call()
            return time.perf_counter() - start

        return run_once

    med = interleaved(
        {
            "fit1": timed(lambda: net.fit(X, Y, epochs=1, lr=0.01, batch_size=32)),
            "epoch": timed(lambda: fast.train_epochs(state, opt, run, 0, 1)),
            "fit0": timed(lambda: net.fit(X, Y, epochs=0, lr=0.01, batch_size=32)),
            "pass": timed(lambda: X.sum()),
        },
        max(rounds, 31),
    )
    fixed = med["fit1"] - med["epoch"]
    measured = (f"fit(epochs=1) - epoch = {ms(fixed)} (epoch {ms(med['epoch'])}; fit(epochs=0) "
                f"{ms(med['fit0'])}); a pass over X {ms(med['pass'])}")  # fmt: skip
    return Row("6", numba.get_num_threads(), f"fit's fixed cost / (1 ms + a pass over X), {DIGITS}",
               measured, fixed / (1e-3 + med["pass"]), "<= 1x")  # fmt: skip


def chunk_cost(name: str, label: str, threads: int, long_seconds: float, rounds: int) -> Row:
    """Target 5: chunks + a no-op callback + progress against one uninterrupted compiled call."""
    case = benchmarks.CASES[name]
    data = case.data()
    X, Y = data.X, data.Y

    def net() -> loopnet.Network:
        return loopnet.Network(list(case.sizes), activation=case.activation,
                               output_activation=case.output_activation, loss=case.loss, backend="loops",
                               dtype="float64", seed=0)  # fmt: skip

    chunks = []

    def uninterrupted(epochs: int) -> Callable[[], float]:
        def run() -> float:
            n = net()
            start = time.perf_counter()
            training.fit(n, X, Y, epochs, case.lr, case.batch_size, chunk_seconds=math.inf)
            return time.perf_counter() - start

        return run

    def chunked(epochs: int) -> Callable[[], float]:
        def run() -> float:
            n = net()
            calls = [0]

            def callback(network, history) -> None:
                calls[0] += 1

            with contextlib.redirect_stderr(io.StringIO()):
                start = time.perf_counter()
                n.fit(X, Y, epochs, lr=case.lr, batch_size=case.batch_size, callbacks=[callback],
                      progress=True)  # fmt: skip
                elapsed = time.perf_counter() - start
            chunks.append(calls[0])
            return elapsed

        return run

    with benchmarks.numba_threads(threads):
        chunked(2)()  # warm-up: compiled code, tqdm's import
        probe_epochs = 1
        while (probe := uninterrupted(probe_epochs)()) < 0.1:
            probe_epochs *= 10
        epochs = max(1, round(long_seconds / probe * probe_epochs))
        t = interleaved({"uninterrupted": uninterrupted(epochs), "chunked": chunked(epochs)}, rounds)
    return Row(
        "5",
        threads,
        f"chunks + callback + progress / one call, {label}",
        f"{t['chunked']:.3f} s / {t['uninterrupted']:.3f} s, {epochs} epochs, "
        f"{statistics.median(chunks[1:]):.0f} chunks",
        t["chunked"] / t["uninterrupted"] - 1.0,
        "<= 5%",
    )


# --- the machine ----------------------------------------------------------------------------------


def cpu_model() -> str:
    """lscpu's "Model name" line, or /proc/cpuinfo's model name."""
    if shutil.which("lscpu"):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    return benchmarks.environment()["cpu"] or platform.processor() or "?"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the (shared) machine was."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def machine() -> list[str]:
    v = benchmarks.versions()
    threads = f"Numba threads {numba.get_num_threads()} ({benchmarks._threading_layer() or '?'})"
    if "torch" in sys.modules:
        threads += f", torch threads {sys.modules['torch'].get_num_threads()}"
    return [
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; {threads}; load average now {load_average()}",
        f"Python {v['python']}, loopnet {v['loopnet']}, numpy {v['numpy']}, numba {v['numba']}, "
        f"torch {v['torch']}, scikit-learn {v['sklearn']}; {platform.platform()}",
    ]


def table(rows: list[Row]) -> str:
    header = ["#", "threads", "target", "measured (medians)", "ratio", "goal", "met"]
    cells = [header, *(r.cells() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    left = (0, 2, 3)
    lines = [
        "  ".join(f"{c[i]:<{widths[i]}}" if i in left else f"{c[i]:>{widths[i]}}" for i in range(7)).rstrip()
        for c in cells
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds of every comparison (default 5)")
    parser.add_argument("--seconds", type=float, default=0.25, help="length of a fit, targets 1-4 (0.25)")
    parser.add_argument("--long", type=float, default=1.5, help="length of a fit, target 5 (1.5)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    default = numba.get_num_threads()
    settings = (default, 1) if default > 1 else (default,)
    few = min(args.repeat, FEW_ROUNDS)

    def log(text: str) -> None:
        print(f"  {time.perf_counter() - start:5.1f} s  {text}", file=sys.stderr, flush=True)

    log(f"start; load average {load_average()}")
    rows = []
    for threads in settings:
        rows.append(adam_vs_sgd(DIGITS, "1", "<= 1.3x", threads, args.seconds, args.repeat))
    log("1 done")
    for threads in settings:
        rows += against_contenders(threads, threads == default, args.seconds, few)
    log("2 done")
    rows += [adam_vs_sgd(name, "3", "<= 1.5x", default, args.seconds, args.repeat) for name in ARTICLES]
    log("3 done")
    for threads in settings:
        rows.append(validation_cost(threads, args.seconds, args.repeat))
    log("4 done")
    rows.append(chunk_cost("xor 2-8-1", "xor 2-8-1 (tiny)", default, args.long, few))
    for threads in settings:
        rows.append(chunk_cost(DIGITS, DIGITS, threads, args.long, few))
    log("5 done")
    rows.append(fixed_cost(args.repeat))
    log("6 done")

    print(
        f"bench/overheads.py: the training issue's speed targets, loops backend, float64; median of "
        f"{args.repeat} rounds ({few} for torch, sklearn and target 5)"
    )
    print()
    print(table(rows))
    print()
    for line in machine():
        print(line)
    print(f"ran in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
