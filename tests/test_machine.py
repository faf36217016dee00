"""loopnet.machine: the peak kernel's arithmetic, its assembly, the vector width and the machine line."""

from __future__ import annotations

import builtins
import json
import math
import os
import subprocess
import sys

import llvmlite.binding as llvm
import numpy as np
import pytest

from loopnet import _jit, machine


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("n", sorted(machine.CHAIN_KERNELS))
def test_chain_kernels_equal_the_closed_form(n, dtype, rtol):
    """reps passes of a = a x + y from distinct starts equal x^R a0 + y (1 - x^R) / (1 - x).

    So the kernel does every multiply-add it is credited with: a kernel that dropped passes, or
    chains, would land elsewhere (after 700 passes at x = 0.995 each chain is 3% of the way from its
    own start to the fixed point y / (1 - x) = 2).
    """
    acc0 = (np.arange(n) / n).astype(dtype)
    acc = acc0.copy()
    x, y, reps = np.dtype(dtype).type(0.995), np.dtype(dtype).type(0.01), 700
    machine.CHAIN_KERNELS[n](acc, x, y, reps)
    expected = machine.chains_closed_form(acc0, x, y, reps)
    np.testing.assert_allclose(acc, expected, rtol=rtol)
    assert np.ptp(acc) > 0.01  # the chains stay apart: no accumulator stands for another


def test_chains_fill_sixteen_vectors_with_avx512():
    bits = machine.peak_bits()
    for dtype, size in (("float64", 8), ("float32", 4)):
        lanes = bits // (8 * size)
        expected = max(32, (16 if bits == 512 else 8) * lanes)
        assert machine.chains(dtype) == expected
        assert machine.chain_kernel(dtype) is machine.CHAIN_KERNELS[expected]


def _host_widest() -> int:
    features = llvm.get_host_cpu_features()
    return 512 if features.get("avx512f") else 256 if features.get("avx2") or features.get("avx") else 128


def test_vector_bits_agrees_with_the_host_features():
    assert machine.vector_bits() == _jit.VECTOR_BITS and machine.vector_bits() <= _host_widest()
    assert (
        machine.peak_bits() == _host_widest()
    )  # the peak is measured at the CPU's widest, whatever loopnet uses


def test_machine_line_names_the_model_and_both_peaks():
    info = {"cpu_model": "Test CPU 9000", "cores": 3, "vector_bits": 256, "peak_bits": 512,
            "peak_gflops": {"float64": 87.4, "float32": 174.6}}  # fmt: skip
    line = machine.machine_line(info)
    assert line == (
        "Test CPU 9000, 3 cores, loops compiled for 256-bit vectors, "
        "FMA peak per core (512-bit) 87 GFLOP/s float64, 175 float32"
    )
    bare = machine.machine_line({**info, "peak_gflops": None})
    assert bare == "Test CPU 9000, 3 cores, loops compiled for 256-bit vectors"


def test_machine_info_measures_once_per_process():
    info = machine.machine_info()
    assert info["cpu_model"] == machine.cpu_model()
    assert info["cores"] == os.cpu_count()
    assert (info["vector_bits"], info["peak_bits"]) == (machine.vector_bits(), machine.peak_bits())
    peaks = info["peak_gflops"]
    assert set(peaks) == {"float64", "float32"}
    assert all(math.isfinite(v) and v > 0 for v in peaks.values())
    assert machine.machine_info()["peak_gflops"] == peaks  # the cached measurement
    assert machine.machine_info(measure=False)["peak_gflops"] is None


def test_cpu_model_reads_cpuinfo_and_never_raises(monkeypatch):
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = {line.split(":", 1)[1].strip() for line in f if line.startswith("model name")}
        if names:
            assert machine.cpu_model() in names

    def no_file(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(builtins, "open", no_file)
    model = machine.cpu_model()
    assert isinstance(model, str) and model
    assert machine.clock_ghz() is None
    assert machine.theoretical_peak("float64") is None


def test_fma_peak_refuses_other_dtypes():
    with pytest.raises(ValueError, match="float64 or float32"):
        machine.fma_peak("int32")


_ASM_PROBE = """
import json, re
from loopnet import machine
out = {"bits": machine.peak_bits()}
for dt in ("float64", "float32"):
    machine.fma_peak(dt, seconds=0.01, repeats=1)  # compiles: this process has its own empty cache
    kernel = machine.chain_kernel(dt)
    asm = kernel.inspect_asm(kernel.signatures[0])
    # the hot loop: the block that jumps back to its own label
    loops = re.findall(r"^(\\.LBB\\S+):\\n((?:(?!^\\.LBB).*\\n)*?)\\s*j\\w+\\s+\\1$", asm, re.M)
    out[dt] = [body for _, body in loops]
print("PROBE", json.dumps(out))
"""


def test_peak_kernels_hold_the_chains_in_the_widest_registers(tmp_path):
    """The assembly of the peak loop: only vfmadd on the widest registers loopnet uses, no memory access.

    Run in a fresh process with its own cache directory (Numba shows no assembly for cached code).
    """
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", _ASM_PROBE], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.split("PROBE ", 1)[1])
    register = {512: "zmm", 256: "ymm", 128: "xmm"}[report["bits"]]
    for dt in ("float64", "float32"):
        (body,) = [b for b in report[dt] if "vfmadd" in b]
        fmas = [line for line in body.splitlines() if "vfmadd" in line]
        vectors = machine.chains(dt) // (report["bits"] // (64 if dt == "float64" else 32))
        assert len(fmas) == vectors, body
        assert all(register in line and ("pd" if dt == "float64" else "ps") in line for line in fmas)
        assert "(" not in body, f"the loop touches memory:\n{body}"  # accumulators stay in registers
