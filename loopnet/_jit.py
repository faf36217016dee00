"""The one place that holds loopnet's Numba options.

Every compiled kernel in loopnet is decorated with :data:`kernel`. Keeping the
options here means a reader can see, in one screen, exactly how the loops are
compiled:

* ``cache=True`` -- the machine code is written next to the source (in
  ``__pycache__``) so a second process loads it instead of recompiling.
* ``nogil=True`` -- compiled code releases the GIL, so Python threads can train
  separate networks at the same time (tests/test_threads.py). One limit: the
  threaded drivers need a thread-safe Numba threading layer (OpenMP or TBB,
  which Linux installs have) to be entered from two Python threads at once;
  with only Numba's ``workqueue`` layer that aborts the process, so there call
  ``numba.set_num_threads(1)`` in each Python thread.
* ``error_model="numpy"`` -- division by zero gives ``inf``/``nan`` as in NumPy
  instead of raising, which also lets LLVM vectorise divisions.
* no ``fastmath`` for :data:`kernel`: the plain kernels are the reference that
  every faster kernel is tested against, so they keep strict IEEE semantics.

The fast kernels (``fast.py``) add :data:`FASTMATH_FLAGS` -- chosen one by one:

* ``reassoc`` lets LLVM reorder a sum, which is what turns the 16 scalar
  accumulators of a register-blocked product into SIMD reductions (2-7x);
* ``contract`` lets ``a * b + c`` become one fused multiply-add;
* ``nsz`` and ``arcp`` (ignore the sign of zero, divide by multiplying with a
  reciprocal) unlock the remaining vector forms.

Deliberately left out: ``nnan`` and ``ninf`` (LLVM could then delete the NaN and
infinity handling, and a diverged network must still show NaN, not garbage) and
``afn`` (approximate libm calls: the exp that matters is written out in
``fast.py`` with its accuracy stated).

:data:`parallel_kernel` adds ``parallel=True`` for the few drivers that spread
bands of rows over threads with ``prange``. Every variant is its own
module-level function: Numba's cache keys a function by its name and source
line, not by its decorator flags, so one function compiled twice with different
flags would share (and clobber) one cache entry.

``fastmath=False`` is written into :data:`JIT_OPTIONS` on purpose. Numba lets a
function whose options leave ``fastmath`` unset inherit it from the caller
that first compiles it, and then caches that build: a strict kernel such as
``fast.exp_approx`` or ``kernels.output_delta``, first reached from a fastmath
kernel, would silently become a fastmath kernel for every later process
(``exp_approx`` lost 200 ulp that way before this line existed; tested in
tests/test_fast.py).

Kernels take an integer code for the activation and the loss instead of a
function argument: a function passed as an argument defeats the on-disk cache,
an integer switch costs nothing measurable.

Setting the environment variable ``NUMBA_DISABLE_JIT=1`` runs every kernel as
plain Python, which is how a learner steps through a loop in a debugger.
"""

from __future__ import annotations

import numba

JIT_OPTIONS: dict[str, object] = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": False,  # said out loud: an unset option is inherited from the caller (see below)
}

FASTMATH_FLAGS: frozenset[str] = frozenset({"reassoc", "contract", "nsz", "arcp"})

FAST_OPTIONS: dict[str, object] = {**JIT_OPTIONS, "fastmath": set(FASTMATH_FLAGS)}

PARALLEL_OPTIONS: dict[str, object] = {**FAST_OPTIONS, "parallel": True}

kernel = numba.njit(**JIT_OPTIONS)
"""Decorator for the plain, strict loop kernels (see the module docstring)."""

fast_kernel = numba.njit(**FAST_OPTIONS)
"""Decorator for the fast loop kernels: :data:`kernel` plus :data:`FASTMATH_FLAGS`."""

parallel_kernel = numba.njit(**PARALLEL_OPTIONS)
"""Decorator for the ``prange`` drivers: :data:`fast_kernel` plus ``parallel=True``."""
