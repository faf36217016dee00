"""The on-disk cache follows the package's sources: an edit to one module recompiles every kernel.

Compiled kernels capture module constants at compile time: ``LEAKY_SLOPE``
from activations.py lives on in the machine code of kernels.py (``plain``) and
fast.py (``loops``). Numba checks a cached function against its own file only,
so loopnet caches every kernel under a hash of all its sources (loopnet/_jit.py).

Each case copies the package to a temporary directory, runs a process that
evaluates a leaky_relu network (negative pre-activations, so the slope shows)
on every backend -- forward, and one full-batch fit step (gradients) -- then
runs it again unchanged (it must compile nothing), edits ``LEAKY_SLOPE`` in
the copy and runs a third time: every backend must now agree with an
independent NumPy formula for the new slope. One case caches under
``NUMBA_CACHE_DIR``; the other in the copy's own ``__pycache__``, with an edit
that keeps the file's size and modification time (only a content hash sees it).

The processes write no ``.pyc`` files: Python itself would trust a stale
``.pyc`` after an edit that keeps the size and modification time. Float64
only: the blocked path costs about 20 s to compile per dtype.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import loopnet

LABELS = ("plain", "loops", "loops-blocked", "numpy")
LR = 0.1
OLD_SLOPE = "0.01"

SCRIPT = f"LABELS, LR = {LABELS!r}, {LR!r}\n" + textwrap.dedent(
    """
    import json
    import numpy as np
    from numba.core import event

    with event.install_recorder("numba:compile") as compiles:
        import loopnet
        from loopnet import activations, fast, kernels

        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
        weights = [(rng.normal(size=(i, j)), np.full(j, -0.5)) for i, j in [(3, 4), (4, 4), (4, 2)]]
        report = {"file": loopnet.__file__, "slope": activations.LEAKY_SLOPE, "X": X.tolist(),
                  "Y": Y.tolist(), "weights": [[W.tolist(), b.tolist()] for W, b in weights],
                  "results": {}, "small": {}}
        small_max_work = fast.SMALL_MAX_WORK
        for label in LABELS:
            fast.SMALL_MAX_WORK = -1 if label == "loops-blocked" else small_max_work
            net = loopnet.Network([3, 4, 4, 2], activation="leaky_relu", output_activation="identity",
                                  loss="mse", backend=label.removesuffix("-blocked"), dtype="float64")
            net.set_weights(weights)
            forward = net.forward(X)
            net.fit(X, Y, epochs=1, lr=LR)  # one full-batch step: the gradients show in the new weights
            parts = [forward] + [w for pair in net.weights for w in pair]
            report["results"][label] = np.concatenate([p.ravel() for p in parts]).tolist()
            report["small"][label] = bool(fast.is_small(net.sizes, len(X)))

    report["compiles"] = [e.data["dispatcher"].py_func.__qualname__ for _, e in compiles.buffer if e.is_start]
    report["cache_paths"] = [kernels.train_epochs.stats.cache_path, fast.train_epochs_fast.stats.cache_path]
    print("REPORT", json.dumps(report))
    """
)


def run(root: Path, cache_dir: Path | None) -> dict:
    """One process on the copy in ``root / "src"``; its report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(root / "src"), PYTHONDONTWRITEBYTECODE="1")
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.split("REPORT", 1)[1])
    assert report["file"].startswith(str(root / "src")), "the subprocess imported another loopnet"
    assert report["small"] == {"plain": True, "loops": True, "loops-blocked": False, "numpy": True}
    return report


def set_slope(activations: Path, new: str, *, keep_stat: bool) -> None:
    """Edit ``LEAKY_SLOPE`` in the copy; ``keep_stat``: with the file's size and modification time kept."""
    before = activations.stat()
    text = activations.read_text()
    assert text.count(f"LEAKY_SLOPE = {OLD_SLOPE}\n") == 1
    activations.write_text(text.replace(f"LEAKY_SLOPE = {OLD_SLOPE}\n", f"LEAKY_SLOPE = {new}\n"))
    if keep_stat:
        os.utime(activations, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = activations.stat()
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def reference(report: dict, slope: float) -> np.ndarray:
    """The forward pass and the weights after one step, as the script lays them out, in plain NumPy."""
    X, Y = np.array(report["X"]), np.array(report["Y"])
    weights = [(np.array(W), np.array(b)) for W, b in report["weights"]]
    zs, acts = [], [X]
    for l, (W, b) in enumerate(weights):
        zs.append(acts[-1] @ W + b)
        acts.append(zs[-1] if l == len(weights) - 1 else np.where(zs[-1] > 0, zs[-1], slope * zs[-1]))
    delta = 2 * (acts[-1] - Y) / Y.size  # mse: the mean over samples and outputs
    grads = []
    for l in reversed(range(len(weights))):
        grads[:0] = [acts[l].T @ delta, delta.sum(axis=0)]
        if l:
            delta = (delta @ weights[l][0].T) * np.where(zs[l - 1] > 0, 1.0, slope)
    stepped = [w - LR * g for w, g in zip((w for pair in weights for w in pair), grads)]
    return np.concatenate([p.ravel() for p in [acts[-1], *stepped]])


def assert_slope(report: dict, slope: str) -> None:
    assert report["slope"] == float(slope)
    expected = reference(report, float(slope))
    off = [l for l in LABELS if not np.allclose(report["results"][l], expected, rtol=1e-10, atol=1e-13)]
    assert off == [], f"these backends do not compute with LEAKY_SLOPE = {slope}"


CASES = {
    # name: (NUMBA_CACHE_DIR set?, the new slope, keep the file's size and modification time?)
    "NUMBA_CACHE_DIR": (True, "0.2", False),
    "in-tree, same size and mtime": (False, "0.02", True),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request, tmp_path_factory) -> dict:
    """The reports of a cold process, the same process again, and a process after the edit."""
    use_cache_dir, new_slope, keep_stat = CASES[request.param]
    root = tmp_path_factory.mktemp("source-cache")
    shutil.copytree(Path(loopnet.__file__).parent, root / "src" / "loopnet",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    cache_dir = root / "cache" if use_cache_dir else None
    cold, warm = run(root, cache_dir), run(root, cache_dir)
    set_slope(root / "src" / "loopnet" / "activations.py", new_slope, keep_stat=keep_stat)
    edited = run(root, cache_dir)
    base = cache_dir if use_cache_dir else root / "src" / "loopnet" / "__pycache__"
    return {"cold": cold, "warm": warm, "edited": edited, "new_slope": new_slope, "base": base}


def test_the_numbers_follow_the_old_slope_then_the_new_one(case):
    assert not np.allclose(
        reference(case["cold"], float(OLD_SLOPE)), reference(case["cold"], float(case["new_slope"]))
    ), "the slope does not show in these numbers: the test proves nothing"
    assert_slope(case["cold"], OLD_SLOPE)
    assert_slope(case["warm"], OLD_SLOPE)
    assert_slope(case["edited"], case["new_slope"])


def test_an_unchanged_package_compiles_nothing_the_second_time(case):
    assert case["cold"]["compiles"], "nothing compiled: the cache was not empty, the test proves nothing"
    assert case["warm"]["compiles"] == []


def test_the_edit_recompiles_the_kernels_of_the_modules_left_alone(case):
    compiled = set(case["edited"]["compiles"])
    assert {"train_epochs", "train_epochs_small", "train_epochs_fast"} <= compiled


def test_the_kernels_are_cached_under_the_hash_of_the_sources(case):
    before, after = case["cold"]["cache_paths"], case["edited"]["cache_paths"]
    assert len(set(before)) == 1 and len(set(after)) == 1
    for path in (before[0], after[0]):
        assert Path(path).parent == case["base"] and Path(path).name.startswith("loopnet-")
    assert before[0] != after[0]
