"""``loopnet bench`` and ``loopnet.benchmarks``: a smoke run, the FLOP count, plain Python, Adam, bad args.

Also the ratios against the fastest vectorized contender, the numpy-lean and jax contenders'
place in the race (their numbers are checked against the loops in tests/test_contenders.py),
compile time kept out of the timing, and the machine's line.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import types
from pathlib import Path

import numba
import numpy as np
import pytest

import loopnet
from loopnet import benchmarks, cli, datasets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _bench_in(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m loopnet bench --sweep tiny ARGS`` run in the folder ``cwd``."""
    proc = subprocess.run(
        [sys.executable, "-m", "loopnet", "bench", "--sweep", "tiny", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The tiny sweep run without --out in an empty folder; returns its output and ./loopnet-bench."""
    cwd = tmp_path_factory.mktemp("bench").resolve()
    return _bench_in(cwd), cwd / "loopnet-bench"


def _written() -> list[str]:
    """The files a run should have written to ``out``: bench.png only where matplotlib is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ["bench.json"]
    return ["bench.json", "bench.png"]


def test_without_out_it_writes_loopnet_bench_in_the_cwd_and_prints_that_folder(tiny_run):
    proc, out = tiny_run
    assert [p.name for p in out.parent.iterdir()] == ["loopnet-bench"]
    assert sorted(p.name for p in out.iterdir()) == _written()
    last = proc.stdout.splitlines()[-1]
    assert last.startswith(f"wrote {' and '.join(_written())} in ")
    assert last.endswith(f" s to {out}")  # the absolute path, though the run was given none


def test_out_chooses_the_folder_and_it_prints_it_absolute(tmp_path):
    cwd = tmp_path.resolve()
    proc = _bench_in(cwd, "--out", "results/run-1")  # relative, two levels that do not exist yet
    out = cwd / "results" / "run-1"
    assert [p.name for p in cwd.iterdir()] == ["results"]  # no ./loopnet-bench
    assert sorted(p.name for p in out.iterdir()) == _written()
    assert proc.stdout.splitlines()[-1].endswith(f" s to {out}")


def test_tiny_sweep_writes_json_whose_ratios_are_time_over_loops_time(tiny_run):
    _, out = tiny_run
    results = json.loads((out / "bench.json").read_text())
    sweep = benchmarks.SWEEPS["tiny"]
    records = results["records"]
    timed = {(r["case"], r["dtype"], r["contender"]) for r in records}
    assert timed == {(c, d, n) for c in sweep.cases for d in sweep.dtypes for n in sweep.contenders}
    loops = {(r["case"], r["dtype"]): r["seconds_per_epoch"] for r in records if r["contender"] == "loops"}
    for r in records:
        assert r["seconds_per_epoch"] > 0 and r["epochs_timed"] >= 1
        assert r["ratio"] == pytest.approx(r["seconds_per_epoch"] / loops[r["case"], r["dtype"]], rel=1e-12)
        assert r["gflops"] == pytest.approx(r["flops_per_epoch"] / r["seconds_per_epoch"] / 1e9, rel=1e-12)
        case = benchmarks.CASES[r["case"]]
        assert (r["sizes"], r["rows"], r["batch_size"]) == (list(case.sizes), case.rows, case.batch_size)
        assert r["optimizer"] == case.optimizer == "sgd"
    for key in ("python", "numpy", "numba", "cpu", "numba_threads", "date"):
        assert results["environment"][key], key
    # numpy is the only vectorized contender of the tiny sweep: every time is quoted against it too
    for r in records:
        numpy = next(
            q for q in records if (q["case"], q["dtype"], q["contender"]) == (r["case"], r["dtype"], "numpy")
        )
        assert r["fastest_vectorized"] == "numpy"
        assert r["ratio_vs_vectorized"] == pytest.approx(r["seconds_per_epoch"] / numpy["seconds_per_epoch"])
        assert r["compile_seconds"] is None  # nothing here compiles per fit


def test_tiny_sweep_records_the_machine_when_loopnet_machine_exists(tiny_run):
    proc, out = tiny_run
    env = json.loads((out / "bench.json").read_text())["environment"]
    try:
        from loopnet import machine
    except ImportError:
        assert "machine" not in env
        return
    info = env["machine"]
    assert set(info) >= {"cpu_model", "cores", "vector_bits", "peak_gflops"}
    assert info["peak_gflops"]["float64"] > 0 and info["peak_gflops"]["float32"] > 0
    assert machine.machine_line(info) in proc.stdout.splitlines()


def test_tiny_sweep_draws_a_png(tiny_run):
    proc, out = tiny_run
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in proc.stdout
        assert not (out / "bench.png").exists()
    else:
        assert (out / "bench.png").read_bytes()[:8] == PNG_MAGIC


def test_tiny_sweep_prints_a_row_per_case_with_a_mark_where_loops_won(tiny_run):
    proc, out = tiny_run
    records = json.loads((out / "bench.json").read_text())["records"]
    lines = proc.stdout.splitlines()
    sweep = benchmarks.SWEEPS["tiny"]
    for case in sweep.cases:
        (row,) = [line for line in lines if line.startswith(case + " ")]
        won = [r for r in records if r["case"] == case and r["ratio"] > 1]
        assert row.count("*") == len(won)  # one * per contender the loops beat
        # each contender but loops shows its ratio (like 41.3x), in column order, as the JSON has it
        ratio = {r["contender"]: r["ratio"] for r in records if r["case"] == case}
        shown = [float(v) for v in re.findall(r"(\d[\d.]*)x\*?(?= |$)", row)]
        assert shown == pytest.approx([ratio[c] for c in sweep.contenders if c != "loops"], rel=0.01)
        # the next line quotes every contender, loops too, against the fastest vectorized one
        versus = lines[lines.index(row) + 1]
        assert versus.startswith("  vs numpy ")
        quoted = {r["contender"]: r["ratio_vs_vectorized"] for r in records if r["case"] == case}
        assert versus.split()[2:] == [benchmarks._ratio(quoted[c]) for c in sweep.contenders]
        assert quoted["numpy"] == 1.0
    assert benchmarks.LEGEND in proc.stdout


@pytest.mark.parametrize(
    ("sizes", "rows", "expected"),
    [
        # 2-2-1 on 4 rows. Layer 1 (I=2, J=2): F1 4*2*2 = 16 multiply-adds, B3 16, no B2 (first layer).
        # Layer 2 (I=2, J=1): F1 4*2*1 = 8, B3 8, B2 8. Total 16+16+8+8+8 = 56 multiply-adds = 112 FLOPs.
        ([2, 2, 1], 4, 112),
        # the perceptron 3-1 on 7 rows: one layer, F1 7*3*1 = 21 and B3 21 multiply-adds: 84 FLOPs.
        ([3, 1], 7, 84),
        # 3-4-2 on 5 rows: layer 1 F1 60 + B3 60; layer 2 F1 40 + B3 40 + B2 40: 240 multiply-adds.
        ([3, 4, 2], 5, 480),
        # three layers, 1 row: 2*3 (F1, B3) + 3*4*5 (F1, B3, B2) + 5*6 (F1, B3, B2)... doubled:
        # layer 1: 2*3*2 = 12 MACs; layer 2: 3*4*3 = 36; layer 3: 4*5*3 = 60. 108 MACs = 216 FLOPs.
        ([2, 3, 4, 5], 1, 216),
    ],
)
def test_flops_per_epoch_matches_a_count_by_hand(sizes, rows, expected):
    assert benchmarks.flops_per_epoch(sizes, rows) == expected


def test_case_flops_match_a_count_of_the_loops_multiply_adds():
    """Count the multiply-adds of F1, B3 and B2 written as the kernels' loop bounds, one layer at a time."""
    for case in benchmarks.CASES.values():
        macs = 0
        for l in range(len(case.sizes) - 1):
            I, J = case.sizes[l], case.sizes[l + 1]
            passes = ["F1", "B3"] + (["B2"] if l > 0 else [])
            macs += len(passes) * case.rows * I * J
        assert case.flops == 2 * macs, case.name


def _copy_modules(package: types.ModuleType) -> list[types.ModuleType]:
    return [package] + [m for m in vars(package).values() if isinstance(m, types.ModuleType)]


def _loopnet_calls(fit) -> int:
    """Python-level calls into functions defined in the given package's files while ``fit`` runs."""
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event == "call" and "loopnet" in Path(frame.f_code.co_filename).parts:
            calls += 1

    sys.setprofile(profile)
    try:
        fit()
    finally:
        sys.setprofile(None)
    return calls


def test_plain_python_copy_is_uncompiled_and_leaves_loopnet_alone():
    flag = numba.config.DISABLE_JIT
    plain = benchmarks.plain_python_loopnet()
    assert plain is benchmarks.plain_python_loopnet()  # cached
    assert plain is not loopnet and plain.Network is not loopnet.Network
    assert sys.modules["loopnet"] is loopnet and numba.config.DISABLE_JIT == flag
    original = [m for name, m in sys.modules.items() if name.startswith("loopnet")]
    assert benchmarks.compiled_objects(original)  # the check finds the real kernels compiled...
    assert benchmarks.compiled_objects(_copy_modules(plain)) == []  # ...and none in the copy

    # Plain Python shows in a profiler: one or more calls into loopnet's files per epoch.
    def fit(epochs):
        net = benchmarks.make_trainer(benchmarks.CASES["xor 2-8-1"], "python", "float64")
        net.new_model()
        return lambda: net.fit(epochs)

    assert _loopnet_calls(fit(12)) > _loopnet_calls(fit(2)) + 10


def test_plain_python_copy_trains_like_the_compiled_loops():
    X, Y = datasets.xor_gate()
    plain = benchmarks.plain_python_loopnet()
    results = []
    for module in (loopnet, plain):
        net = module.Network([2, 3, 1], activation="tanh", loss="bce", backend="loops", seed=3)
        history = net.fit(X, Y, epochs=25, lr=0.5, batch_size=3)  # two batches: the shuffle runs too
        results.append((history["loss"], net.weights))
    (loss_c, weights_c), (loss_p, weights_p) = results
    np.testing.assert_allclose(loss_p, loss_c, rtol=1e-10, atol=1e-12)
    assert loss_c[-1] < loss_c[0]  # it trained, so equal weights mean something
    for (W_c, b_c), (W_p, b_p) in zip(weights_c, weights_p):
        np.testing.assert_allclose(W_p, W_c, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b_p, b_c, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case_name", ["xor 2-8-1", "xor 2-8-1 adam"])
@pytest.mark.parametrize("name", list(benchmarks.CONTENDERS))
def test_every_contender_runs_exactly_the_epochs_asked(name, case_name):
    case = benchmarks.CASES[case_name]
    try:
        trainer = benchmarks.make_trainer(case, name, "float64")
    except benchmarks.Unavailable as why:
        pytest.skip(str(why))
    trainer.new_model()
    steps = 0
    if name == "torch":  # its fit returns the epochs it was asked for: count the optimizer's steps instead
        step = trainer.optimizer.step

        def counted_step(*args, **kwargs):
            nonlocal steps
            steps += 1
            return step(*args, **kwargs)

        trainer.optimizer.step = counted_step
    assert trainer.fit(7) == 7  # scikit-learn stops early unless told not to: this catches it
    if name == "torch":
        assert steps == 7 * math.ceil(case.rows / trainer.batch_size)


# --- the optimizer of a case --------------------------------------------------------------------

ADAM_CASES = ["and 2-2-1", "three-bit 3-5-1", "perceptron 3-1", "xor 2-8-1", "digits 64-128-10 b32"]
"""The SGD cases that must have an Adam twin ("<name> adam"): the ones the speed targets compare."""


def test_a_case_trains_with_sgd_unless_told_and_refuses_unknown_optimizers():
    case = benchmarks.CASES["and 2-2-1"]
    assert case.optimizer == "sgd"
    assert benchmarks.OPTIMIZERS == ("sgd", "adam")
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; expected one of sgd, adam"):
        benchmarks.Case(**{**vars(case), "optimizer": "rmsprop"})


def test_adam_cases_are_twins_of_sgd_cases():
    adam = [c for c in benchmarks.CASES.values() if c.optimizer == "adam"]
    assert {c.name for c in adam} >= {f"{name} adam" for name in ADAM_CASES}
    for case in benchmarks.CASES.values():
        assert case.name.endswith(" adam") == (case.optimizer == "adam"), case.name
    for case in adam:
        twin = benchmarks.CASES[case.name.removesuffix(" adam")]
        assert twin.optimizer == "sgd"
        same = ("sizes", "rows", "batch_size", "activation", "output_activation", "loss", "data")
        assert [getattr(case, f) for f in same] == [getattr(twin, f) for f in same], case.name
        assert case.flops == twin.flops
        assert benchmarks.find_case(case.slug) is case
        assert 0 < case.lr <= 0.01  # Adam's step is about lr: the SGD rates (up to 2) would be too big
    assert benchmarks.adam_twin(benchmarks.CASES["xor 2-8-1"], lr=0.01) == benchmarks.CASES["xor 2-8-1 adam"]


def test_quick_and_full_sweeps_time_adam():
    quick, full = benchmarks.SWEEPS["quick"], benchmarks.SWEEPS["full"]
    assert {"digits 64-128-10 b32 adam", "xor 2-8-1 adam"} <= set(quick.cases)
    assert set(full.cases) == set(benchmarks.CASES)
    assert all(c.optimizer == "sgd" for c in map(benchmarks.CASES.get, benchmarks.SWEEPS["tiny"].cases))


@pytest.mark.parametrize("optimizer", benchmarks.OPTIMIZERS)
@pytest.mark.parametrize("name", list(benchmarks.CONTENDERS))
def test_every_contender_uses_the_case_optimizer(name, optimizer):
    case = benchmarks.CASES["xor 2-8-1" if optimizer == "sgd" else "xor 2-8-1 adam"]
    try:
        trainer = benchmarks.make_trainer(case, name, "float64")
    except benchmarks.Unavailable as why:
        pytest.skip(str(why))
    trainer.new_model()
    assert trainer.fit(1) == 1
    if name == "torch":
        import torch

        opt = trainer.optimizer
        assert type(opt) is (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)
        (group,) = opt.param_groups
        assert group["lr"] == case.lr and group["weight_decay"] == 0
        if optimizer == "sgd":
            assert group["momentum"] == 0 and not group["nesterov"]
        else:
            assert group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8 and not group["amsgrad"]
            assert len(opt.state) == len(group["params"])  # it stepped: every parameter has moments
    elif name == "sklearn":
        params = trainer.model.get_params()
        assert params["solver"] == optimizer
        assert (params["learning_rate_init"], params["alpha"], params["batch_size"]) == (case.lr, 0.0, 4)
        if optimizer == "adam":
            assert (params["beta_1"], params["beta_2"], params["epsilon"]) == (0.9, 0.999, 1e-8)
        else:
            assert (params["learning_rate"], params["momentum"]) == ("constant", 0.0)
    elif name in ("numpy-lean", "jax"):
        model = trainer.model
        assert (model.optimizer, model.lr, model.betas, model.eps) == (optimizer, case.lr, (0.9, 0.999), 1e-8)
        steps = model.step if name == "numpy-lean" else int(model.state[2])
        assert steps == 1  # one full-batch epoch: one update
    elif name == "c":  # plain SGD at the case's rate: one epoch lands where loopnet's does
        net = loopnet.Network(list(case.sizes), activation=case.activation,
                              output_activation=case.output_activation, loss=case.loss, seed=0)  # fmt: skip
        net.fit(trainer.X, trainer.Y, epochs=1, lr=case.lr)
        np.testing.assert_allclose(trainer.result.params, net.params, rtol=1e-12, atol=0)
    elif optimizer == "sgd":
        assert trainer.optimizer is None  # fit(lr=case.lr): plain SGD
    else:
        opt = trainer.optimizer
        assert type(opt) is trainer.module.Adam  # the plain-Python copy's own class for "python"
        assert (opt.lr, opt.betas, opt.eps, opt.weight_decay) == (case.lr, (0.9, 0.999), 1e-8, 0.0)
        assert opt.steps == 1  # one full-batch epoch: one Adam step, on this very optimizer


def _direct_fit(case, backend, epochs, optimizer):
    """loopnet.Network on the case, trained by a fit written out by hand: what the trainer should do."""
    data = case.data()
    net = loopnet.Network(list(case.sizes), activation=case.activation,
                          output_activation=case.output_activation, loss=case.loss, backend=backend,
                          dtype="float64", seed=0)  # fmt: skip
    if optimizer == "adam":
        rule = {"optimizer": loopnet.Adam(lr=case.lr)}
    else:
        rule = {"lr": case.lr}
    net.fit(data.X, data.Y, epochs=epochs, batch_size=case.batch_size, **rule)
    return net.params


@pytest.mark.parametrize(
    ("name", "contender"),
    [("digits 64-128-10 b32", "loops"), ("digits 64-128-10 b32", "numpy"), ("xor 2-8-1", "python")],
)
def test_loopnet_contenders_train_with_adam_exactly_like_loopnet_adam(name, contender):
    case = benchmarks.CASES[f"{name} adam"]
    epochs = 2
    trainer = benchmarks.make_trainer(case, contender, "float64")
    trainer.new_model()
    assert trainer.fit(epochs) == epochs
    assert trainer.optimizer.steps == epochs * math.ceil(case.rows / trainer.batch_size)
    backend = "loops" if contender == "python" else contender
    adam = _direct_fit(case, backend, epochs, "adam")
    if contender == "python":  # plain Python against the compiled loops: rounding may differ
        np.testing.assert_allclose(trainer.net.params, adam, rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_array_equal(trainer.net.params, adam)
    sgd = _direct_fit(case, backend, epochs, "sgd")  # at Adam's lr: what it would be without the optimizer
    assert np.max(np.abs(adam - sgd)) > 1e-4


def test_every_new_model_gets_a_fresh_adam():
    trainer = benchmarks.make_trainer(benchmarks.CASES["xor 2-8-1 adam"], "loops", "float64")
    trainer.new_model()
    first = trainer.optimizer
    trainer.fit(5)
    after_five = trainer.net.params.copy()
    trainer.new_model()
    assert trainer.optimizer is not first and trainer.optimizer.steps == 0
    trainer.fit(5)
    np.testing.assert_array_equal(trainer.net.params, after_five)  # no moments carried over


def test_bench_runs_an_adam_case_by_its_slug(tmp_path):
    _bench_in(tmp_path, "--cases", "xor-2-8-1-adam", "--contenders", "loops", "--no-plot", "--out", "out")
    (record,) = json.loads((tmp_path / "out" / "bench.json").read_text())["records"]
    assert (record["case"], record["optimizer"], record["contender"]) == ("xor 2-8-1 adam", "adam", "loops")


def test_python_contender_refuses_big_cases_with_the_reason():
    with pytest.raises(benchmarks.Unavailable, match="rows x parameters = 17,269,170"):
        benchmarks.make_trainer(benchmarks.CASES["digits 64-128-10 b32"], "python", "float64")


@pytest.mark.parametrize(
    ("seconds", "text"), [(812e-9, "812 ns"), (2.2e-6, "2.20 µs"), (6.9e-3, "6.90 ms"), (1.24, "1.24 s")]
)
def test_seconds_print_in_human_units(seconds, text):
    assert benchmarks.format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "huge"], "invalid choice: 'huge'"),
        (["--contenders", "loops", "matlab"], "invalid choice: 'matlab'"),
        (["--dtype", "float16"], "invalid choice: 'float16'"),
        (["--cases", "and 2-2-1"], "invalid choice: 'and 2-2-1'"),
        (["--dtype"], "expected at least one argument"),
        (["--out", "FILE"], "is a file; give a directory"),
    ],
)
def test_bad_bench_arguments_exit_2_with_a_message(args, message, tmp_path, capsys):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    args = [str(a_file) if arg == "FILE" else arg for arg in args]
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "usage: loopnet bench" in err


# --- the fastest vectorized contender, numpy-lean, jax ----------------------------------------------


def _record(case, dtype, contender, seconds, **extra):
    return {"case": case, "dtype": dtype, "contender": contender, "seconds_per_epoch": seconds,
            "flops_per_epoch": 1000, "ratio": None, **extra}  # fmt: skip


def test_the_fastest_vectorized_contender_is_the_quickest_of_numpy_numpy_lean_and_jax():
    assert benchmarks.VECTORIZED == ("numpy", "numpy-lean", "jax")
    assert set(benchmarks.VECTORIZED) <= set(benchmarks.CONTENDERS)
    # times by hand: jax 2 ms is the fastest vectorized; torch at 1 ms is faster but not vectorized
    times = [("loops", 4e-3), ("numpy", 8e-3), ("numpy-lean", 5e-3), ("jax", 2e-3), ("torch", 1e-3)]
    records = [_record("c", "float64", name, t) for name, t in times]
    benchmarks._quote_against_vectorized(records)
    assert {r["fastest_vectorized"] for r in records} == {"jax"}
    assert [r["ratio_vs_vectorized"] for r in records] == pytest.approx([2.0, 4.0, 2.5, 1.0, 0.5])
    alone = [_record("c", "float64", "loops", 4e-3), _record("c", "float64", "sklearn", 8e-3)]
    benchmarks._quote_against_vectorized(alone)  # no vectorized contender ran: nothing to quote
    assert [(r["fastest_vectorized"], r["ratio_vs_vectorized"]) for r in alone] == [(None, None)] * 2


def test_the_table_quotes_the_fastest_vectorized_and_notes_compile_times():
    records = [_record("net", "float32", "loops", 4e-3, ratio=1.0),
               _record("net", "float32", "numpy-lean", 5e-3, ratio=1.25),
               _record("net", "float32", "jax", 2e-3, ratio=0.5, compile_seconds=1.5)]  # fmt: skip
    benchmarks._quote_against_vectorized(records)
    settings = {"cases": ["net"], "dtypes": ["float32"], "contenders": ["loops", "numpy-lean", "jax"]}
    results = {"settings": settings, "records": records, "environment": {}}
    lines = benchmarks.format_table(results).splitlines()
    (row,) = [line for line in lines if line.startswith("net ")]
    assert "5.00 ms 1.25x*" in row and "2.00 ms 0.50x " in row + " "
    versus = lines[lines.index(row) + 1].split()
    assert versus == ["vs", "jax", "2.00x", "2.50x", "1.00x"]  # loops, numpy-lean, jax: time / jax's
    assert "  jax, net: float32 1.50 s" in lines  # the compile time, in the notes, not in the cell


def test_time_fit_prepares_before_the_clock_starts(monkeypatch):
    """jax compiles a program per epoch count in prepare(): that must happen outside the timed span."""
    events = []

    class Fake(benchmarks.Trainer):
        def __init__(self):
            pass

        def new_model(self):
            events.append("new_model")

        def prepare(self, epochs):
            events.append(f"prepare {epochs}")

        def fit(self, epochs):
            events.append(f"fit {epochs}")
            return epochs

    def clock():
        events.append("clock")
        return float(len(events))

    monkeypatch.setattr(benchmarks.time, "perf_counter", clock)
    benchmarks.time_fit(Fake(), 3)
    assert events == ["new_model", "prepare 3", "clock", "fit 3", "clock"]


def test_jax_is_unavailable_with_the_reason_when_it_is_not_installed(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_jax(name, *args, **kwargs):
        if name == "jax" or name.startswith("jax."):
            raise ImportError("No module named 'jax'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jax)
    with pytest.raises(benchmarks.Unavailable, match=r"JAX is not installed \(pip install jax\)"):
        benchmarks.make_trainer(benchmarks.CASES["xor 2-8-1"], "jax", "float64")


def test_jax_reports_its_compile_time_apart():
    pytest.importorskip("jax")
    trainer = benchmarks.make_trainer(benchmarks.CASES["xor 2-8-1"], "jax", "float64")
    trainer.warm_up()
    trainer.new_model()
    trainer.prepare(4)
    assert trainer.compile_seconds > 0
    assert trainer.model.compile_times.keys() >= {(1, 4, False), (4, 4, False)}  # warm-up's, then this one
    compiled = dict(trainer.model.compile_times)
    assert trainer.fit(4) == 4
    assert trainer.model.compile_times == compiled  # the timed fit compiled nothing
