"""The ``loopnet`` command line.

loopnet demo                      run every article's example
loopnet demo NAME [--epochs N]    run one: and, three-bit, xor, perceptron
loopnet demo perceptron --as-published [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__, demos


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.as_published and args.name != "perceptron":
            parser.error(
                "--as-published goes with the perceptron demo: loopnet demo perceptron --as-published"
            )
        names = [args.name] if args.name else list(demos.DEMOS)
        try:
            for name in names:
                demos.run(name, epochs=args.epochs, backend=args.backend, as_published=args.as_published)
        except BrokenPipeError:  # e.g. `loopnet demo | head`: stop quietly like other Unix tools
            sys.stderr.close()
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
