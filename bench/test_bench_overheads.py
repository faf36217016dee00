"""What Adam, validation and chunked fits cost (pytest-benchmark, outside the default test run).

    python -m pytest bench/test_bench_overheads.py --benchmark-only --benchmark-group-by=group

The speed targets of the training issue (7), one table (group) per comparison; read a
table by its median column, row against row. ``bench/overheads.py`` runs the same
comparisons without pytest and prints just the ratios, with the machine. Every
round runs on fresh weights after a warm-up (compile time is not counted), on the
``loops`` backend in float64 with Numba's default threads. pytest-benchmark runs
all rounds of one row before the next row, so on a shared machine a change of load
between rows reads as a difference (the script interleaves the rows, round by
round: quote its ratios). And where the other core is busy, a parallel region can
wait milliseconds for its second thread (the forward pass over 360 validation
rows goes parallel; a 32-row training batch does not): run with
``NUMBA_NUM_THREADS=1`` to take that out.

* ``adam vs sgd | <case>`` (digits 64-128-10 b32 and the articles' and, three-bit,
  perceptron and xor networks): the case of ``loopnet.benchmarks`` (plain SGD) and
  its ``adam`` twin, the same epochs per round. Targets: Adam / SGD at most 1.3x on
  digits, at most 1.5x on the articles' networks. (Target 2, a loops Adam epoch at
  least 2x faster than PyTorch's and scikit-learn's, is the group
  ``digits 64-128-10 b32 adam | float64`` of ``bench/test_bench_training.py``:
  ``-k "digits-64-128-10-b32-adam and float64"``.)
* ``validation | digits``: a fit on 1437 digits rows at batch 32, in one compiled call
  (``chunk_seconds=math.inf``), without and with ``validation=`` on the other 360
  rows; and as many forward passes over those 360 rows as the fits have epochs
  (the compiled ``loopnet.fast.forward_pass`` into preallocated buffers, and
  ``Network.forward``). Target: with - without at most the compiled forward row.
* ``chunks | tiny`` (xor 2-8-1, full batch) and ``chunks | digits`` (batch 32): the same
  epochs, lasting about :data:`CHUNK_RUN_SECONDS`, in one compiled call
  (``loopnet.training.fit(..., chunk_seconds=math.inf)``), in chunks of about 0.1 s
  (``Network.fit``'s default), in chunks with a callback that does nothing, and in
  chunks with that callback and ``progress=True`` (the bar written to a StringIO).
  Target: the last row under 5% above the first.

``extra_info`` says what each row is: the case, optimizer, epochs per round, and the
settings compared.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math

import numpy as np
import pytest

import loopnet
from loopnet import benchmarks, fast, training

ROUNDS = 5
ROUND_SECONDS = 0.1
"""Length of a round of the adam-vs-sgd and validation groups (the SGD fit, without validation)."""
CHUNK_ROUNDS = 3
CHUNK_RUN_SECONDS = 1.5
"""Length of an uninterrupted fit in the chunks groups: long enough for a dozen chunks or more."""

DIGITS = "digits 64-128-10 b32"
ARTICLES = ("and 2-2-1", "three-bit 3-5-1", "perceptron 3-1", "xor 2-8-1")
VALIDATION_ROWS = 360


def _info(benchmark, **info) -> None:
    benchmark.extra_info.update({**info, "dtype": "float64", "backend": "loops", **benchmarks.versions()})


def _per_epoch(benchmark, epochs: int) -> None:
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["seconds_per_epoch"] = benchmark.stats.stats.median / epochs


# --- adam vs sgd ----------------------------------------------------------------------------------


@functools.cache
def _adam_vs_sgd_epochs(name: str) -> int:
    """Epochs per round of a case and its Adam twin: what makes the SGD fit last ROUND_SECONDS."""
    trainer = benchmarks.make_trainer(benchmarks.CASES[name], "loops", "float64")
    trainer.warm_up()
    return benchmarks.choose_epochs(trainer, ROUND_SECONDS)[0]


@pytest.mark.parametrize("optimizer", benchmarks.OPTIMIZERS)
@pytest.mark.parametrize("name", [DIGITS, *ARTICLES], ids=lambda name: name.replace(" ", "-"))
def test_adam_vs_sgd(benchmark, name: str, optimizer: str) -> None:
    epochs = _adam_vs_sgd_epochs(name)
    case = benchmarks.CASES[name if optimizer == "sgd" else f"{name} adam"]
    trainer = benchmarks.make_trainer(case, "loops", "float64")
    trainer.warm_up()
    benchmark.group = f"adam vs sgd | {name}"
    _info(benchmark, what=f"{case.name}: {optimizer}, lr {case.lr:g}", case=case.name, optimizer=optimizer,
          lr=case.lr, batch_size=case.batch_size, epochs_per_round=epochs)  # fmt: skip

    def fresh_weights():
        trainer.new_model()
        return (epochs,), {}

    done = benchmark.pedantic(trainer.fit, setup=fresh_weights, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert done == epochs
    _per_epoch(benchmark, epochs)


# --- validation -----------------------------------------------------------------------------------


def _digits_net() -> loopnet.Network:
    return loopnet.Network([64, 128, 10], activation="relu", output_activation="softmax",
                           loss="cross_entropy", backend="loops", dtype="float64", seed=0)  # fmt: skip


@functools.cache
def _validation_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Digits' first rows for training, the last VALIDATION_ROWS for validation; the epochs per round."""
    data = benchmarks.CASES[DIGITS].data()
    n = data.X.shape[0] - VALIDATION_ROWS
    X, Y = data.X[:n], data.Y[:n]
    Xv, Yv = np.ascontiguousarray(data.X[n:]), np.ascontiguousarray(data.Y[n:])
    training.fit(_digits_net(), X, Y, 1, 0.1, 32, validation=(Xv, Yv), chunk_seconds=math.inf)  # warm-up
    trainer = benchmarks.make_trainer(benchmarks.CASES[DIGITS], "loops", "float64")
    trainer.warm_up()
    epochs = benchmarks.choose_epochs(trainer, ROUND_SECONDS)[0]
    return X, Y, Xv, Yv, epochs


VALIDATION_RUNS = {
    # what: test id
    "fit without validation": "fit",
    "fit with validation": "fit-validation",
    "compiled forward pass x epochs": "forward-pass",
    "Network.forward x epochs": "network-forward",
}


@pytest.mark.parametrize("what", [pytest.param(what, id=i) for what, i in VALIDATION_RUNS.items()])
def test_validation(benchmark, what: str) -> None:
    X, Y, Xv, Yv, epochs = _validation_split()
    benchmark.group = "validation | digits"
    _info(benchmark, what=what, case=DIGITS, optimizer="sgd", training_rows=X.shape[0],
          validation_rows=Xv.shape[0], epochs_per_round=epochs)  # fmt: skip
    if what.startswith("fit"):
        validation = (Xv, Yv) if what == "fit with validation" else None

        def fit(net):
            history = training.fit(net, X, Y, epochs, 0.1, 32, validation=validation, chunk_seconds=math.inf)
            return history.epochs

        done = benchmark.pedantic(fit, setup=lambda: ((_digits_net(),), {}), rounds=ROUNDS, warmup_rounds=1)
        assert done == epochs
        _per_epoch(benchmark, epochs)
        return
    net = _digits_net()
    zbuf, abuf, _ = net._work(Xv.shape[0])

    def forwards() -> None:
        for _ in range(epochs):
            if what == "Network.forward x epochs":
                net.forward(Xv)
            else:
                fast.forward_pass(net.params, net._sizes, net._acts, Xv, zbuf, abuf)

    benchmark.pedantic(forwards, rounds=ROUNDS, warmup_rounds=1)
    _per_epoch(benchmark, epochs)


# --- chunks ---------------------------------------------------------------------------------------

CHUNK_NETWORKS = {"tiny": "xor 2-8-1", "digits": DIGITS}
CHUNK_RUNS = {
    # what: (test id, chunk_seconds, a callback, progress)
    "one call (chunk_seconds=inf)": ("one-call", math.inf, False, False),
    "chunks": ("chunks", training.CHUNK_SECONDS, False, False),
    "chunks + callback": ("chunks-callback", training.CHUNK_SECONDS, True, False),
    "chunks + callback + progress": ("chunks-callback-progress", training.CHUNK_SECONDS, True, True),
}


def _chunk_net(case: benchmarks.Case) -> loopnet.Network:
    return loopnet.Network(list(case.sizes), activation=case.activation,
                           output_activation=case.output_activation, loss=case.loss, backend="loops",
                           dtype="float64", seed=0)  # fmt: skip


@functools.cache
def _chunk_epochs(name: str) -> int:
    """Epochs for an uninterrupted fit of about CHUNK_RUN_SECONDS, from a timed fit of at least 0.1 s."""
    trainer = benchmarks.make_trainer(benchmarks.CASES[name], "loops", "float64")
    trainer.warm_up()
    epochs, seconds = benchmarks.choose_epochs(trainer, 0.1)
    return max(1, round(CHUNK_RUN_SECONDS / seconds * epochs))


@pytest.mark.parametrize("what", [pytest.param(what, id=run[0]) for what, run in CHUNK_RUNS.items()])
@pytest.mark.parametrize("network", list(CHUNK_NETWORKS))
def test_chunks(benchmark, network: str, what: str) -> None:
    case = benchmarks.CASES[CHUNK_NETWORKS[network]]
    data = case.data()
    epochs = _chunk_epochs(case.name)
    _, chunk_seconds, callback, progress = CHUNK_RUNS[what]
    calls = []
    callbacks = [lambda net, history: calls.append(None)] if callback else []
    rounds = []

    def fit(net):
        rounds.append(None)
        with contextlib.redirect_stderr(io.StringIO()):
            history = training.fit(net, data.X, data.Y, epochs, case.lr, case.batch_size, callbacks=callbacks,
                                   progress=progress, chunk_seconds=chunk_seconds)  # fmt: skip
        return history.epochs

    fit(_chunk_net(case))  # warm-up, untimed: compiled code and tqdm's import
    calls.clear()
    rounds.clear()
    benchmark.group = f"chunks | {network}"
    _info(benchmark, what=what, case=case.name, optimizer="sgd", epochs_per_round=epochs,
          chunk_seconds=chunk_seconds, callback=callback, progress=progress)  # fmt: skip
    done = benchmark.pedantic(fit, setup=lambda: ((_chunk_net(case),), {}), rounds=CHUNK_ROUNDS)
    assert done == epochs
    if callback:
        benchmark.extra_info["chunks_per_round"] = len(calls) / len(rounds)
    _per_epoch(benchmark, epochs)
