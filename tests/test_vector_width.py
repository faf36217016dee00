"""The vector width loopnet compiles for: 512-bit on AVX-512 CPUs, for loopnet's functions only.

LLVM prefers 256-bit vectors on many AVX-512 CPUs; loopnet asks for 512 with a
function attribute set by its own compiler pipeline (loopnet/_jit.py). These
tests read the attribute in the LLVM IR and the registers in the machine code,
and check that Numba code outside loopnet is compiled as before.
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
        ("+avx,+avx2,+avx512f,+fma", None, 512),
        ("+avx,+avx2,-avx512f,+fma", None, 256),
        ("+sse2,-avx,-avx2,-avx512f", None, 128),
        ("+avx,+avx2,+avx512f", "256", 256),
        ("+avx,+avx2,+avx512f", "", 512),
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


@pytest.mark.skipif(not HOST_AVX512 or _jit.VECTOR_BITS != 512, reason="needs an AVX-512 CPU")
def test_loopnet_kernels_ask_for_and_get_512_bit_vectors():
    kernel = fresh(fast.abt_rows4.py_func)
    A = np.random.default_rng(0).random((4, 64))
    C = np.zeros((4, 8))
    kernel(A, np.vstack([A, A]), C, 0, 0, 8)
    np.testing.assert_allclose(C, A @ np.vstack([A, A]).T, rtol=1e-13)
    (ir,) = kernel.inspect_llvm().values()
    (asm,) = kernel.inspect_asm().values()
    assert ATTRIBUTE in attributes_of(ir, "abt_rows4")
    assert re.search(r"vfmadd\w+\s+%zmm", asm), "the product's multiply-adds should use 512-bit registers"


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


@pytest.mark.skipif(not HOST_AVX512, reason="needs an AVX-512 CPU")
def test_the_override_gives_256_bit_code(tmp_path):
    code = (
        "import re, numba, numpy as np\n"
        "from loopnet import _jit, fast\n"
        "k = numba.njit(**{**_jit.FAST_OPTIONS, 'cache': False})(fast.abt_rows4.py_func)\n"
        "A = np.ones((4, 64)); C = np.zeros((4, 4)); k(A, A, C, 0, 0, 4)\n"
        "(asm,) = k.inspect_asm().values()\n"
        "print(_jit.VECTOR_BITS, len(re.findall('zmm', asm)), len(re.findall('ymm', asm)))\n"
    )
    env = {**os.environ, "LOOPNET_VECTOR_BITS": "256", "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    bits, zmm, ymm = map(int, out.stdout.split())
    assert (bits, zmm) == (256, 0) and ymm > 0
