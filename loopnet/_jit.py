"""The one place that holds loopnet's Numba options.

Every compiled kernel in loopnet is decorated with :data:`kernel`. Keeping the
options here means a reader can see, in one screen, exactly how the loops are
compiled:

* ``cache=True`` -- the machine code is written next to the source (in
  ``__pycache__``) so a second process loads it instead of recompiling.
* ``nogil=True`` -- compiled code releases the GIL, so Python threads can train
  separate networks at the same time.
* ``error_model="numpy"`` -- division by zero gives ``inf``/``nan`` as in NumPy
  instead of raising, which also lets LLVM vectorise divisions.
* no ``fastmath``: the plain kernels are the reference that every faster kernel
  is tested against, so they keep strict IEEE semantics (a NaN check works).

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
}

kernel = numba.njit(**JIT_OPTIONS)
"""Decorator for every compiled loop in loopnet (see the module docstring)."""
