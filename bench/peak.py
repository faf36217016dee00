"""The machine line and the FMA peak of one core: loopnet's kernel, a C program, the theoretical value.

    python bench/peak.py [--seconds 0.2]

loopnet's figure is ``loopnet.machine.fma_peak`` (a compiled kernel of
independent multiply-add chains held in vector registers). The cross-checks:
``bench/peak.c``, the same chains written with the widest intrinsics
``cc -O3 -march=native`` allows (skipped, with the reason, without a C
compiler), and FMA units x lanes x 2 FLOP x the clock /proc/cpuinfo reports
(a virtual machine's nominal clock; turbo runs above it, a busy host below).
All three should agree within a few percent on an idle core; on a shared one
the measured figures fall below the theoretical one together.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from loopnet import machine

SOURCE = Path(__file__).with_name("peak.c")


def c_peak(seconds: float) -> tuple[dict[str, float], int] | str:
    """({"float64": x, "float32": y} GFLOP/s, vector bits) from bench/peak.c, or why it could not run."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        return "no C compiler (set CC or install cc)"
    with tempfile.TemporaryDirectory() as tmp:
        program = Path(tmp) / "peak"
        built = subprocess.run([cc, "-O3", "-march=native", str(SOURCE), "-o", str(program)],
                               capture_output=True, text=True)  # fmt: skip
        if built.returncode != 0:
            return f"bench/peak.c did not compile here: {built.stderr.strip().splitlines()[-1:]}"
        out = subprocess.run([str(program), str(seconds)], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split() for line in out.splitlines())
    return {"float64": float(fields["float64"]), "float32": float(fields["float32"])}, int(fields["bits"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="seconds of each measurement")
    args = parser.parse_args(argv)
    info = machine.machine_info(measure=False)
    info["peak_gflops"] = {dt: machine.fma_peak(dt, args.seconds) for dt in ("float64", "float32")}
    print(machine.machine_line(info))
    c = c_peak(args.seconds)
    print(f"{'GFLOP/s per core':28s} {'float64':>8s} {'float32':>8s}")
    print(
        f"{'loopnet kernel':28s} {info['peak_gflops']['float64']:8.1f} {info['peak_gflops']['float32']:8.1f}"
    )
    if isinstance(c, str):
        print(f"{'C (bench/peak.c)':28s} skipped: {c}")
    else:
        print(f"{f'C intrinsics, {c[1]}-bit':28s} {c[0]['float64']:8.1f} {c[0]['float32']:8.1f}")
    ghz = machine.clock_ghz()
    if ghz is None:
        print("theoretical: the clock is unknown here")
    else:
        theory = {dt: machine.theoretical_peak(dt) for dt in ("float64", "float32")}
        label = f"theory {machine.FMA_UNITS} FMA x {ghz:.2f} GHz"
        print(f"{label:28s} {theory['float64']:8.1f} {theory['float32']:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
