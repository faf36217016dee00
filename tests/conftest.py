"""Shared test set-up: two Numba threads, the ``loops-blocked`` backend name, the PyTorch oracle's skips.

Tiny networks take ``fast.train_epochs_small`` (which equals the plain loops bit
for bit); everything else takes the register-blocked kernels. The tests'
networks are small, so a test parametrized with ``backend="loops-blocked"``
gets ``backend="loops"`` with the tiny path switched off, and the blocked
kernels face the same oracles.
"""

from __future__ import annotations

import os

# The threaded drivers only run with two or more Numba threads; give the suite two even on a one-core
# runner (before anything imports Numba), unless the caller chose a number.
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np
import pytest

from loopnet import fast


@pytest.fixture(autouse=True)
def _force_blocked_path(request, monkeypatch):
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("backend") == "loops-blocked":
        monkeypatch.setattr(fast, "SMALL_MAX_WORK", -1)


def backend_name(backend: str) -> str:
    """The Network backend behind a test's backend label (``loops-blocked`` is ``loops``)."""
    return backend.removesuffix("-blocked")


def next_fit_seed(gen: np.random.Generator) -> int:
    """The shuffle seed the next ``fit`` of a network seeded with ``gen`` draws, without drawing it.

    docs/design.md: every fit draws one ``integers(1, 2**31 - 1)`` from the network's generator; the tests
    that replay a fit's batches by hand start the shuffle from it.
    """
    probe = np.random.Generator(type(gen.bit_generator)())
    probe.bit_generator.state = gen.bit_generator.state
    return int(probe.integers(1, 2**31 - 1))


TORCH_MISSING = "PyTorch is not installed"
TORCH_INSTALL = 'pip install "torch==2.13.0"'


def import_torch():
    """PyTorch, the outside oracle; its tests skip (and are counted at the end of the run) without it."""
    return pytest.importorskip("torch", reason=f"{TORCH_MISSING}: {TORCH_INSTALL} runs this oracle")


def pytest_terminal_summary(terminalreporter):
    """One line for every PyTorch case skipped, with the command that installs it."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if TORCH_MISSING in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} PyTorch oracle cases skipped ({TORCH_MISSING}; every path is still held to "
            f"finite differences). To run them: {TORCH_INSTALL}",
            yellow=True,
        )
