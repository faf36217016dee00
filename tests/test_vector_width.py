"""The vector width loopnet compiles for: LLVM's default, or 512 bits with AVX-512 when asked; loopnet only.

LLVM prefers 256-bit vectors on many AVX-512 CPUs; with LOOPNET_VECTOR_BITS=512
loopnet asks for 512 with a function attribute set by its own compiler pipeline
(loopnet/_jit.py). These tests read the attribute in the LLVM IR and the
registers in the machine code (in subprocesses, for the setting), and check
that Numba code outside loopnet is compiled as before.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import llvmlite.binding as llvm
import numba
import numpy as np
import pytest

from loopnet import _jit, fast

HOST_AVX512 = "+avx512f" in llvm.get_host_cpu_features().flatten().split(",")
ATTRIBUTE = '"prefer-vector-width"="512"'


def fresh(py_func, **options):
    """A new, uncached compile of py_func with loopnet's fast options (cached code cannot be inspected)."""
    return numba.njit(**{**_jit.FAST_OPTIONS, "cache": False, **options})(py_func)


@pytest.mark.parametrize(
    ("features", "override", "bits"),
    [
        ("+avx,+avx2,+avx512f,+fma", None, 256),  # LLVM's default unless asked
        ("+avx,+avx2,-avx512f,+fma", None, 256),
        ("+sse2,-avx,-avx2,-avx512f", None, 128),
        ("+avx,+avx2,+avx512f", "512", 512),
        ("+avx,+avx2,+avx512f", "", 256),
        ("+avx,+avx2,+avx512f", "128", 128),
        ("+avx,+avx2,-avx512f", "512", 256),  # never wider than the CPU has
    ],
)
def test_vector_bits_follows_the_cpu_and_the_override(features, override, bits):
    assert _jit._vector_bits(features, override) == bits


@pytest.mark.parametrize("override", ["1024", "wide", "256 "])
def test_a_bad_override_is_refused(override):
    with pytest.raises(ValueError, match="LOOPNET_VECTOR_BITS must be 128, 256 or 512"):
        _jit._vector_bits("+avx2,+avx512f", override)


def test_the_cache_directory_names_the_width():
    assert os.path.basename(fast.abt_rows4._cache.cache_path).endswith(f"-v{_jit.VECTOR_BITS}")


WIDTH_PROBE = (
    "import re, numba, numpy as np\n"
    "from loopnet import _jit, fast\n"
    "k = numba.njit(**{**_jit.FAST_OPTIONS, 'cache': False})(fast.abt_rows4.py_func)\n"
    "A = np.random.default_rng(0).random((4, 64)); C = np.zeros((4, 4)); k(A, A, C, 0, 0, 4)\n"
    "assert np.allclose(C, A @ A.T, rtol=1e-13)\n"
    "(ir,) = k.inspect_llvm().values()\n"
    "(asm,) = k.inspect_asm().values()\n"
    'wide = \'"prefer-vector-width"="512"\' in ir\n'
    "zmm = len(re.findall(r'vfmadd\\w+\\s+%zmm', asm))\n"
    "print(_jit.VECTOR_BITS, int(wide), zmm, len(re.findall('ymm', asm)))\n"
)


def probe(tmp_path, bits: str | None) -> tuple[int, int, int, int]:
    """(VECTOR_BITS, attribute set, zmm multiply-adds, ymm mentions) of a fast kernel, in a new process."""
    env = {k: v for k, v in os.environ.items() if k != "LOOPNET_VECTOR_BITS"}
    env["NUMBA_CACHE_DIR"] = str(tmp_path)
    if bits is not None:
        env["LOOPNET_VECTOR_BITS"] = bits
    out = subprocess.run(
        [sys.executable, "-c", WIDTH_PROBE], env=env, capture_output=True, text=True, check=True
    )
    return tuple(map(int, out.stdout.split()))


@pytest.mark.skipif(not HOST_AVX512, reason="needs an AVX-512 CPU")
def test_asked_for_512_bits_the_kernels_get_zmm_registers(tmp_path):
    bits, wide, zmm_fma, _ = probe(tmp_path, "512")
    assert (bits, wide) == (512, 1)
    assert zmm_fma > 0, "the product's multiply-adds should use 512-bit registers"


def test_by_default_llvm_chooses_and_no_attribute_is_set(tmp_path):
    bits, wide, zmm_fma, ymm = probe(tmp_path, None)
    assert (bits, wide, zmm_fma) == (min(256, bits), 0, 0)
    assert ymm > 0 or not HOST_AVX512


def _dot(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


def test_numba_code_outside_loopnet_is_left_as_it_was():
    plain = numba.njit(fastmath={"reassoc", "contract"})(_dot)
    a = np.arange(64.0)
    assert plain(a, a) == a @ a
    (ir,) = plain.inspect_llvm().values()
    assert "prefer-vector-width" not in attributes_of(ir, "_dot")


def test_band_kernels_stay_out_of_line():
    band = numba.njit(**{**_jit.BAND_OPTIONS, "cache": False})(_dot)
    band(np.ones(3), np.ones(3))
    (ir,) = band.inspect_llvm().values()
    assert "noinline" in attributes_of(ir, "_dot")


def attributes_of(ir: str, name: str) -> str:
    """The attributes of the first function defined in ir whose name contains name (inline or by group)."""
    define = next(line for line in ir.splitlines() if line.startswith("define") and name in line)
    group = re.search(r"#(\d+) \{$", define)
    if group is None:
        return define
    return next(line for line in ir.splitlines() if line.startswith(f"attributes #{group[1]} "))
