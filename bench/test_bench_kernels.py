"""Race every plain loop kernel against its NumPy twin and its fast form (pytest-benchmark, not in CI).

    python -m pytest bench --benchmark-only --benchmark-group-by=group

Each kernel runs once before timing, so compile time is not counted. Groups
are named ``kernel|size`` so the contenders share one table. The fast forms
are called through their plain-signature adapters (fast.py), on one thread,
with the transposed copies made on every call.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from loopnet.registry import KERNELS

SIZES = [(4, 2, 2), (32, 64, 128), (256, 784, 256)]
NETWORK_KERNELS = {"forward_pass", "backward_pass", "train_epochs"}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("contender", ["loops", "numpy", "fast"])
@pytest.mark.parametrize("pair", KERNELS, ids=lambda p: p.name)
def test_kernel(benchmark, pair, contender, size):
    if pair.name in NETWORK_KERNELS and size[1] > 64:
        pytest.skip("whole-network kernels are raced at the small sizes only here")
    if getattr(pair, contender) is None:
        pytest.skip(f"{pair.name} has no fast form: the fast loops use the plain one")
    args = pair.make_args(np.random.default_rng(0), size, np.dtype("float64"), pair.variants[0])
    fn = getattr(pair, contender)
    fn(*copy.deepcopy(args))  # warm the JIT
    benchmark.group = f"{pair.name}|{'x'.join(map(str, size))}"
    benchmark.extra_info["tag"] = pair.tag
    benchmark(fn, *args)
