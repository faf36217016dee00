"""The ``loopnet`` command line.

loopnet demo                      run every article's example
loopnet demo NAME [--epochs N] [--plot FILE]   run one: and, three-bit, xor, perceptron
loopnet demo perceptron --as-published [--epochs N]
loopnet bench [--sweep tiny|quick|full] [--dtype ...] [--contenders ...] [--cases ...] [--out DIR] [--no-plot]
loopnet bench --estimators [--dtype ...] [--out DIR]   loopnet.MLPClassifier vs scikit-learn's, per epoch
loopnet warmup [--dtype float64 float32]   compile ahead of time (e.g. in a Docker build)
loopnet train DATA.csv --target COLUMN [...]   train on a CSV file, write model.npz (docs/cli.md)
loopnet predict MODEL.npz DATA.csv [--proba] [--out FILE.csv]   one prediction per row, as CSV
loopnet show MODEL.npz [--json]   what a model file holds
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__, benchmarks, commands, demos, explain, plots
from ._validation import DTYPES as _DTYPES
from .commands import _output_problem, _positive_int


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopnet", description="Neural networks as explicit loops, compiled by Numba."
    )
    parser.add_argument("--version", action="version", version=f"loopnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the articles' worked examples")
    demo.add_argument("name", nargs="?", choices=list(demos.DEMOS), help="one demo (default: all)")
    demo.add_argument("--epochs", type=_positive_int, help="epochs to train (default: the demo's own)")
    demo.add_argument("--backend", choices=["loops", "numpy"], default="loops")
    demo.add_argument(
        "--as-published",
        action="store_true",
        help="perceptron only: also replay seed 003's published (quirky) training rule",
    )
    demo.add_argument(
        "--plot",
        metavar="FILE",
        help="with one demo: save its error curve (loss per epoch) to FILE, e.g. err.png, as seed 001 "
        "plots its training error (needs matplotlib: pip install 'loopnet[plot]')",
    )
    _add_bench_parser(sub)
    explain.add_parser(sub)
    commands.add_parsers(sub)
    warm = sub.add_parser(
        "warmup",
        help="compile the kernels ahead of time, into Numba's cache (e.g. in a Docker build)",
        description=(
            "Compile every kernel a fit, predict, loss or gradients of the loops backend can run, for each "
            "dtype, and write it to the on-disk cache, so that the first fit of a later process starts at "
            "once. Set NUMBA_CACHE_DIR to choose the cache directory (the same one at run time)."
        ),
    )
    warm.add_argument(
        "--dtype",
        nargs="+",
        choices=list(_DTYPES),
        default=list(_DTYPES),
        metavar="DTYPE",
        help=f"dtypes to compile for, of {', '.join(_DTYPES)} (default: both)",
    )
    return parser


def _warmup(args: argparse.Namespace) -> int:
    from . import warmup

    start = time.perf_counter()
    steps = warmup.warmup(_unique(args.dtype), log=lambda line: print(line, flush=True))
    compiled = sum(len(step["compiled"]) for step in steps)
    cache = warmup.cache_path()
    seconds = time.perf_counter() - start
    print(f"loopnet warmup: {compiled} functions compiled in {seconds:.1f} s; cache: {cache}")
    return 0


def _output_dir(text: str) -> Path:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file; give a directory for bench.json and bench.png")
    if path.is_dir() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory this user cannot write to")
    return path


def _add_bench_parser(sub) -> None:
    sweeps = "; ".join(f"{s.name}: {s.description}" for s in benchmarks.SWEEPS.values())
    bench = sub.add_parser(
        "bench",
        help="time training epochs: loops vs numpy, numpy-lean, JAX, plain Python, scikit-learn, PyTorch",
        description=(
            "Time one training epoch of each case by each contender (after a warm-up fit, so compile "
            "time is not counted) and print the machine and a table of seconds per epoch, with ratios "
            "against the loops and against the fastest vectorized contender (jax's compile time is "
            "reported apart); write DIR/bench.json and DIR/bench.png."
        ),
        epilog=f"Sweeps -- {sweeps}.",
    )
    bench.add_argument(
        "--sweep", choices=list(benchmarks.SWEEPS), default="quick", help="which cases, contenders and dtypes"
    )
    bench.add_argument(
        "--dtype",
        nargs="+",
        choices=list(benchmarks.DTYPES),
        metavar="DTYPE",
        help=f"dtypes to time, of {', '.join(benchmarks.DTYPES)} (default: the sweep's)",
    )
    bench.add_argument(
        "--contenders",
        nargs="+",
        choices=list(benchmarks.CONTENDERS),
        metavar="NAME",
        help=f"contenders to time, of {', '.join(benchmarks.CONTENDERS)}; loops always run: every "
        "ratio is against them, and also against the fastest vectorized contender (numpy, numpy-lean, "
        "jax) that ran (default: the sweep's)",
    )
    slugs = ", ".join(case.slug for case in benchmarks.CASES.values())
    bench.add_argument(
        "--cases",
        nargs="+",
        choices=[case.slug for case in benchmarks.CASES.values()],
        metavar="CASE",
        help=f"cases to time, of {slugs} (default: the sweep's)",
    )
    bench.add_argument(
        "--out",
        type=_output_dir,
        default=Path("loopnet-bench"),
        metavar="DIR",
        help="directory for bench.json and bench.png, created if needed (default: ./loopnet-bench)",
    )
    bench.add_argument("--no-plot", action="store_true", help="do not draw bench.png")
    bench.add_argument(
        "--estimators",
        action="store_true",
        help="instead of a sweep, race loopnet.MLPClassifier against scikit-learn's MLPClassifier: seconds "
        "per epoch of fit on digits (solvers adam and sgd, 64 hidden units, batch 64, random_state 0; "
        "--dtype default float64), checking both reach the same loss_curve_; writes DIR/estimators.json",
    )


def _plot_path_problem(text: str) -> str | None:
    """Why ``demo --plot`` could not write ``text`` (checked before the demo runs), or None."""
    from matplotlib.backend_bases import FigureCanvasBase

    problem = _output_problem(text, "a file name like err.png")
    if problem:
        return problem
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(text).suffix.lstrip(".").lower() or "png"  # plots.save writes PNG without a suffix
    if suffix not in formats:
        return f"{text!r}: matplotlib writes no .{suffix} files; use one of {', '.join(sorted(formats))}"
    return None


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _made(out: Path) -> bool:
    """Create the --out folder (and its parents); False, with the error on stderr, if that fails."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"loopnet bench: error: cannot create --out {str(out)!r}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def _bench_estimators(args: argparse.Namespace) -> int:
    """``loopnet bench --estimators``: benchmarks.estimator_race, its table, DIR/estimators.json."""
    given = [flag for flag, value in (("--contenders", args.contenders), ("--cases", args.cases)) if value]
    if given:
        print(f"loopnet bench: error: --estimators races two fixed estimators; drop {' and '.join(given)}",
              file=sys.stderr)  # fmt: skip
        return 2
    out: Path = args.out
    if not _made(out):
        return 2
    dtypes = _unique(args.dtype or ["float64"])

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    log(
        f"loopnet bench --estimators: solvers {', '.join(benchmarks.ESTIMATOR_SOLVERS)} "
        f"x {', '.join(dtypes)}, "
        f"{benchmarks.ESTIMATOR_ROUNDS} fits of {benchmarks.ESTIMATOR_EPOCHS} epochs per estimator, after a "
        "first fit (loopnet's first fit compiles, once per install)"
    )
    start = time.perf_counter()
    try:
        results = benchmarks.estimator_race(dtypes=dtypes, log=log)
    except benchmarks.Unavailable as why:
        print(f"loopnet bench: error: --estimators needs scikit-learn: {why}", file=sys.stderr)
        return 1
    benchmarks.save_json(results, out / "estimators.json")
    print(benchmarks.format_estimator_race(results))
    print(f"wrote estimators.json in {time.perf_counter() - start:.1f} s to {out.resolve()}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    if args.estimators:
        return _bench_estimators(args)
    sweep = benchmarks.SWEEPS[args.sweep]
    out: Path = args.out
    if not _made(out):
        return 2
    dtypes = _unique(args.dtype or sweep.dtypes)
    contenders = _unique(args.contenders or sweep.contenders)
    cases = [benchmarks.find_case(name) for name in _unique(args.cases or sweep.cases)]

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if "loops" not in contenders:
        log("note: loops added to the contenders: every ratio is against them")
    log(
        f"loopnet bench --sweep {sweep.name}: {len(cases)} cases x {len(_unique(['loops', *contenders]))} "
        f"contenders x {len(dtypes)} dtypes, each timed fit lasting at least {sweep.min_seconds:g} s"
    )
    start = time.perf_counter()
    results = benchmarks.run(cases, contenders, dtypes, sweep.min_seconds, log=log)
    results["settings"]["sweep"] = sweep.name
    benchmarks.save_json(results, out / "bench.json")
    written = ["bench.json"]
    plot_note = "no plot (--no-plot)"
    if not args.no_plot:
        why_not = benchmarks.plot(results, out / "bench.png")
        if why_not is None:
            written.append("bench.png")
        plot_note = why_not
    env = results["environment"]
    print(
        f"loopnet bench, sweep {sweep.name}: seconds per training epoch on {env['cpu'] or 'this CPU'} "
        f"({env['cpu_count']} cores, {env['numba_threads']} Numba threads)"
    )
    print()
    print(benchmarks.format_table(results))
    synthetic = sorted(case for case, source in results["data"].items() if "SYNTHETIC" in source)
    if synthetic:
        print(
            f"note: {', '.join(synthetic)} ran on synthetic data: scikit-learn (for load_digits) is missing"
        )
    for line in _unique(
        f"not run: {s['contender']} on {s['case']} ({s['reason']})" for s in results["skipped"]
    ):
        print(line)
    if plot_note and not args.no_plot:
        print(f"note: {plot_note}")
    print(f"wrote {' and '.join(written)} in {time.perf_counter() - start:.1f} s to {out.resolve()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.as_published and args.name != "perceptron":
            parser.error(
                "--as-published goes with the perceptron demo: loopnet demo perceptron --as-published"
            )
        if args.plot and not args.name:
            parser.error(
                "--plot draws one demo's error curve: name it, e.g. loopnet demo three-bit --plot err.png"
            )
        if args.plot:
            try:
                plots.require_matplotlib()
            except ImportError as exc:
                print(f"loopnet demo: error: {exc}", file=sys.stderr)
                return 1
            problem = _plot_path_problem(args.plot)
            if problem:  # found before the demo runs, not after
                parser.error(f"argument --plot: {problem}")
        names = [args.name] if args.name else list(demos.DEMOS)
        try:
            for name in names:
                results = demos.run(
                    name, epochs=args.epochs, backend=args.backend, as_published=args.as_published
                )
        except BrokenPipeError:  # e.g. `loopnet demo | head`: stop quietly like other Unix tools
            sys.stderr.close()
            return 0
        except (ValueError, MemoryError) as exc:  # e.g. --epochs too many to keep a history of
            print(f"loopnet demo: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 1
        if args.plot:
            try:
                demos.plot(results, args.plot)
            except (OSError, ValueError) as exc:
                print(f"loopnet demo: error: cannot write --plot {args.plot!r}: {exc}", file=sys.stderr)
                return 1
            print(f"wrote the error curve to {args.plot}")
    elif args.command == "warmup":
        return _warmup(args)
    elif args.command == "explain":
        return explain.main(args)
    elif args.command in ("train", "predict", "show"):
        try:
            return commands.main(args)
        except MemoryError as exc:  # e.g. --layers too wide for this machine: one line, not a traceback
            print(f"loopnet {args.command}: error: not enough memory: {exc}", file=sys.stderr)
            return 1
    elif args.command == "bench":
        try:
            return _bench(args)
        except BrokenPipeError:
            sys.stderr.close()
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
