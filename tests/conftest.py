"""Shared test set-up: two Numba threads, and the ``loops-blocked`` backend name.

Tiny networks take ``fast.train_sgd_small`` (which equals the plain loops bit
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
