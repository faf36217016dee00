"""The machine a figure came from: CPU model, cores, the SIMD width loopnet compiles for, the FMA peak.

The peak is measured at the widest vectors the CPU has (``_jit.HOST_BITS``: the
probe's kernels are compiled for it whatever ``LOOPNET_VECTOR_BITS`` says), so it
is the machine's, not loopnet's; the line says both widths.

Every speed figure loopnet prints names its machine with :func:`machine_line`,
for example::

    Intel(R) Xeon(R) Processor, 2 cores, loops compiled for 256-bit vectors,
    FMA peak per core (512-bit) 78 GFLOP/s float64, 151 float32

The peak is measured, not looked up: :func:`fma_peak` runs a compiled kernel of
many independent multiply-add chains (one fused multiply-add is 2 FLOP) on one
core. A chain ``a = a * x + y`` waits for its own previous result, so one chain
runs at the FMA latency (4 cycles on recent x86 cores); a core with 2 FMA units
needs 4 x 2 = 8 vectors of chains in flight to keep both busy. The kernels keep
16 vectors of accumulators (8 where the CPU has only 16 vector registers) in
registers through the whole loop: the inner loop has a constant trip count, so
LLVM unrolls it and holds the accumulators in registers (checked on the
assembly by tests/test_machine.py). ``bench/peak.py`` prints the figures beside
a C program's and the theoretical value (:func:`theoretical_peak`).
"""

from __future__ import annotations

import functools
import os
import platform
import time

import numpy as np

from . import _jit
from ._jit import peak_kernel

FMA_LATENCY = 4
"""Cycles from a fused multiply-add to the next one using its result (Skylake and later, Zen 2 and later)."""

FMA_UNITS = 2
"""Fused multiply-add units per core assumed by :func:`theoretical_peak` (Xeon Gold/Platinum, Zen 4)."""


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo "model name", else platform.processor()); never raises."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    try:
        return platform.processor() or platform.machine() or "unknown CPU"
    except Exception:  # platform.processor() may run a subprocess: any failure means "unknown"
        return "unknown CPU"


def vector_bits() -> int:
    """The SIMD width loopnet's compiled loops use here: ``_jit.VECTOR_BITS``."""
    return int(_jit.VECTOR_BITS)


def peak_bits() -> int:
    """The widest SIMD width of this CPU, which the peak is measured with (``_jit.HOST_BITS``)."""
    return int(_jit.HOST_BITS)


def clock_ghz() -> float | None:
    """The core clock /proc/cpuinfo reports ("cpu MHz" of the first core) in GHz; None where unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "cpu MHz":
                    return float(value) / 1000.0
    except (OSError, ValueError):
        pass
    return None


def theoretical_peak(dtype) -> float | None:
    """FMA_UNITS x lanes x 2 FLOP x clock, in GFLOP/s per core; None when the clock is unknown.

    lanes = peak_bits() / bits of ``dtype``. The reported clock of a virtual
    machine is its nominal one: turbo can run above it, a busy host below.
    """
    ghz = clock_ghz()
    if ghz is None:
        return None
    lanes = peak_bits() // (8 * np.dtype(dtype).itemsize)
    return FMA_UNITS * lanes * 2 * ghz


# --- the kernels: acc[c] = acc[c] * x + y, reps times, the chains in registers -------------------
#
# One kernel per number of chains: the inner trip count must be a constant for LLVM to unroll it and
# keep every accumulator in a register across the reps loop (with acc.shape[0] it loads and stores
# acc on every pass, and measures the stores instead). Each is its own module-level function, so each
# has its own cache entry.


@peak_kernel
def fma_chains_32(acc, x, y, reps):
    """reps passes of acc[c] = acc[c] * x + y over 32 accumulators (acc has exactly 32 entries)."""
    for _ in range(reps):
        for c in range(32):
            acc[c] = acc[c] * x + y


@peak_kernel
def fma_chains_64(acc, x, y, reps):
    """reps passes of acc[c] = acc[c] * x + y over 64 accumulators (acc has exactly 64 entries)."""
    for _ in range(reps):
        for c in range(64):
            acc[c] = acc[c] * x + y


@peak_kernel
def fma_chains_128(acc, x, y, reps):
    """reps passes of acc[c] = acc[c] * x + y over 128 accumulators (acc has exactly 128 entries)."""
    for _ in range(reps):
        for c in range(128):
            acc[c] = acc[c] * x + y


@peak_kernel
def fma_chains_256(acc, x, y, reps):
    """reps passes of acc[c] = acc[c] * x + y over 256 accumulators (acc has exactly 256 entries)."""
    for _ in range(reps):
        for c in range(256):
            acc[c] = acc[c] * x + y


CHAIN_KERNELS = {32: fma_chains_32, 64: fma_chains_64, 128: fma_chains_128, 256: fma_chains_256}


def chains(dtype) -> int:
    """Accumulators the peak kernel keeps for ``dtype``: 16 vectors with AVX-512 (32 registers), else 8.

    8 vectors are FMA_LATENCY x FMA_UNITS, the fewest that keep both units busy; 16 leave
    room for a longer latency. Never fewer than 32 (the smallest kernel).
    """
    bits = peak_bits()
    vectors = 16 if bits >= 512 else 8
    return max(32, vectors * bits // (8 * np.dtype(dtype).itemsize))


def chain_kernel(dtype):
    """The compiled kernel :func:`fma_peak` runs for ``dtype`` (for inspecting its assembly)."""
    return CHAIN_KERNELS[chains(dtype)]


def chains_closed_form(acc0: np.ndarray, x: float, y: float, reps: int) -> np.ndarray:
    """What reps passes of a = a * x + y give, from the formula: x^R a0 + y (1 - x^R) / (1 - x) (x != 1)."""
    acc0 = np.asarray(acc0, dtype=np.float64)
    xr = float(x) ** reps
    return xr * acc0 + float(y) * (1.0 - xr) / (1.0 - float(x))


def _run_chains(dtype, reps: int) -> tuple[np.ndarray, float]:
    """Run the peak kernel for ``dtype`` once; (the accumulators, seconds)."""
    dt = np.dtype(dtype)
    n = chains(dt)
    acc = (np.arange(n) / n).astype(dt)
    # x < 1: every chain decays towards y / (1 - x) = 1, so nothing overflows or goes subnormal
    x, y = dt.type(0.999), dt.type(0.001)
    start = time.perf_counter()
    CHAIN_KERNELS[n](acc, x, y, reps)
    return acc, time.perf_counter() - start


def fma_peak(dtype, seconds: float = 0.2, repeats: int = 5) -> float:
    """Measured multiply-add peak of one core in GFLOP/s (an FMA = 2 FLOP) for float64 or float32.

    Runs the chain kernel (after one call that compiles it) for about
    ``seconds`` in all, as ``repeats`` runs; the best run counts, since the
    machine may be shared and only interruptions make a run slower.
    """
    dt = np.dtype(dtype)
    if dt not in (np.float64, np.float32):
        raise ValueError(f"fma_peak measures float64 or float32, got {dt}")
    n = chains(dt)
    _run_chains(dt, 1)  # compiles or loads the kernel
    reps = 1000
    while True:  # grow the run until it lasts long enough to time
        elapsed = _run_chains(dt, reps)[1]
        if elapsed >= seconds / repeats / 4 or reps >= 1 << 40:
            break
        reps *= 4
    reps = max(1, int(reps * (seconds / repeats) / max(elapsed, 1e-9)))
    best = min(_run_chains(dt, reps)[1] for _ in range(repeats))
    return 2.0 * n * reps / best / 1e9


@functools.cache
def _peaks() -> dict[str, float]:
    return {"float64": fma_peak("float64"), "float32": fma_peak("float32")}


def machine_info(measure: bool = True) -> dict:
    """cpu_model, cores, vector_bits (loopnet's), peak_bits (the CPU's widest) and peak_gflops per core.

    ``peak_gflops`` is ``{"float64": x, "float32": y}``, or None with ``measure=False``.
    """
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "vector_bits": vector_bits(),
        "peak_bits": peak_bits(),
        "peak_gflops": dict(_peaks()) if measure else None,
    }


def machine_line(info: dict) -> str:
    """One line naming the machine: "Intel(R) Xeon(R) Processor, 2 cores, 512-bit vectors, FMA peak ..."."""
    line = f"{info['cpu_model']}, {info['cores']} cores, loops compiled for {info['vector_bits']}-bit vectors"
    peak = info.get("peak_gflops")
    if peak:
        width = info.get("peak_bits", info["vector_bits"])
        line += (f", FMA peak per core ({width}-bit) {peak['float64']:.0f} GFLOP/s float64, "
                 f"{peak['float32']:.0f} float32")  # fmt: skip
    return line
