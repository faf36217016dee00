"""The product core alone: C = A @ B.T by loopnet's register-blocked loops against OpenBLAS.

    python -m pytest bench/test_bench_products.py --benchmark-only --benchmark-group-by=group

Contenders, per shape and dtype: ``loops-1t`` (fast.abt_product, one thread), ``loops``
(fast.abt_product_par on Numba's default threads), ``numpy-1t`` (``A @ B.T`` with BLAS held to
one thread by threadpoolctl) and ``numpy`` (BLAS on its default threads). 256 x 784 x 256 is
the MNIST-like network's first layer at batch 256 (issue 3's 90 % target); 32 x 64 x 128 the
digits network's at batch 32, where BLAS's threads do not pay. ``extra_info["gflops"]`` comes
from the median time.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from loopnet import fast

SHAPES = [(256, 784, 256), (32, 64, 128), (256, 256, 784)]
CONTENDERS = ["loops-1t", "loops", "numpy-1t", "numpy"]


def _runner(contender, A, B, C):
    if contender == "loops-1t":
        return lambda: fast.abt_product(A, B, C)
    if contender == "loops":
        return lambda: fast.abt_product_par(A, B, C)
    BT = B.T
    return lambda: np.matmul(A, BT, out=C)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_product(benchmark, shape, contender, dtype):
    M, K, J = shape
    rng = np.random.default_rng(0)
    A = rng.random((M, K)).astype(dtype)
    B = rng.random((J, K)).astype(dtype)
    C = np.empty((M, J), dtype=dtype)
    run = _runner(contender, A, B, C)
    limits = None
    if contender == "numpy-1t":
        threadpoolctl = pytest.importorskip("threadpoolctl")
        limits = threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    threads = numba.get_num_threads()
    if contender == "loops-1t":
        numba.set_num_threads(1)
    try:
        run()  # compile or load, and check
        np.testing.assert_allclose(C, A.astype(np.float64) @ B.T.astype(np.float64), rtol=1e-4)
        benchmark.group = f"product {M}x{K}x{J} | {dtype}"
        benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=3)
    finally:
        numba.set_num_threads(threads)
        if limits is not None:
            limits.restore_original_limits()
    flops = 2.0 * M * K * J
    benchmark.extra_info.update(
        {"flops": flops, "gflops": flops / benchmark.stats.stats.median / 1e9, "numba_threads": threads,
         "numpy": np.__version__, "numba": numba.__version__}
    )  # fmt: skip
