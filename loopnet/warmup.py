"""Compiling ahead of time (``loopnet warmup``), and the note a fit prints before it compiles.

Numba compiles a kernel the first time it is called with new argument types and
writes the machine code to its on-disk cache (``loopnet._jit``), so only the
first fit of a fresh install pays for it, once per dtype: about 10 s for the
tiny-network loops and 10-20 s more for the blocked ones on a 2-core machine.
:func:`warmup` makes those calls with no epochs to run, for every variant a fit,
predict, loss or gradients can reach, so a ``RUN loopnet warmup`` line in a
Dockerfile leaves an image whose first fit starts at once. Without it, a fit
about to compile says so on stderr (:func:`note_if_compiling`), once.

What a fit runs is fixed by types, not values: the dtype, and for the blocked
loops whether any product is big enough for the thread pool and whether there
are validation rows (``fast.train_kernel``). A network's sizes, activations,
loss, optimizer and batch size are runtime values, so the networks below stand
for every other.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
from numba.core import event

from . import fast as _fast
from . import kernels as _plain
from . import training as _training
from ._validation import DTYPES, check_dtype

SECONDS = {"train_epochs_small": 10, "train_epochs_fast": 20, "train_epochs": 10}
"""About how long a cold compile of each training kernel takes on a 2-core Xeon (for the note); the
threaded build of train_epochs_fast takes about half as long again."""


def is_ready(dispatcher, args: Sequence) -> bool:
    """Whether calling ``dispatcher(*args)`` runs without compiling: compiled in this process, or cached.

    Reads the cache's index (a small file), as Numba does before it loads an entry; anything unexpected
    (another Numba, ``NUMBA_DISABLE_JIT``) answers True, so the worst case is a missing note.
    """
    overloads = getattr(dispatcher, "overloads", None)
    if overloads is None:  # NUMBA_DISABLE_JIT: a plain Python function, nothing to compile
        return True
    try:
        sig = tuple(dispatcher.typeof_pyval(a) for a in args)
        if sig in overloads:
            return True
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # Numba internals changed: the note is a courtesy, never a failure
        return True


def training_call(net, state, opt, run) -> tuple[Callable, tuple]:
    """The compiled function and arguments the next chunk of a fit calls (``first`` and ``count`` 0)."""
    if net.backend == "plain":
        return _plain.train_epochs, (state, opt, run, 0, 0)
    kernel, variant = _fast.train_kernel(state.sizes, run)
    return kernel, (state, opt, run, 0, 0, *variant)


_checked: set[tuple] = set()
"""The (kernel, variant, dtype) a fit of this process has run: compiled now, so not checked again."""


def note_if_compiling(net, state, opt, run) -> None:
    """One line on stderr when the fit is about to compile its epoch loop (it is not in the cache).

    The types of a fit's arguments follow from the kernel, its variant and the dtype (the arrays are
    C-contiguous and writeable, ``_validation.as_matrix``), so each is checked once per process: the
    check's typing of the arguments costs a few tenths of a millisecond, later fits nothing.
    """
    kernel, args = training_call(net, state, opt, run)
    name = getattr(kernel, "__name__", "")
    key = (getattr(kernel, "__module__", ""), name, args[5:], net.dtype.name)
    if key in _checked:
        return
    _checked.add(key)
    if is_ready(kernel, args):
        return
    seconds = SECONDS.get(name, 20) * (3 if args[5:6] == (True,) else 2) // 2
    print(
        f"loopnet: compiling the training loops for {net.dtype.name} (once per install, "
        f"~{seconds} s; `loopnet warmup` does it ahead of time)",
        file=sys.stderr,
        flush=True,
    )


# --- loopnet warmup -------------------------------------------------------------------------------


def _data(rows: int, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((rows, n_in)), np.eye(n_out)[rng.integers(0, n_out, rows)]


def _networks(dtype: str):
    """A tiny network (the tiny-network loops) and a digits-sized one (the blocked loops), with data."""
    from .network import Network

    tiny = Network([2, 2, 1], dtype=dtype, seed=0)
    blocked = Network([64, 128, 10], activation="relu", output_activation="softmax", loss="cross_entropy",
                      dtype=dtype, seed=0)  # fmt: skip
    X, Y = _data(4, 2, 2)
    return (tiny, X, Y[:, :1]), (blocked, *_data(64, 64, 10))


def _steps(dtype: str) -> list[tuple[str, Callable[[], None]]]:
    """(what, call) for every compiled entry point a fit, predict, loss or gradients reaches."""
    (tiny, Xt, Yt), (net, X, Y) = _networks(dtype)

    def setup(net, X, Y):
        return _training._setup(net, X, Y, 0, 0.1, 32, None, None, True, None, (X, Y), None)

    def tiny_fit():
        _fast.train_epochs_small(*setup(tiny, Xt, Yt), 0, 0)

    def fit(threaded, validate):
        def call():
            _fast.train_epochs_fast(*setup(net, X, Y), 0, 0, threaded, validate)

        return call

    def public(net, X, Y):
        def call():
            net.predict(X)
            net.loss(X, Y)
            net.gradients(X, Y)

        return call

    def blocked_passes(threaded):
        def call():
            params, sizes, acts = net.params, net._sizes, net._acts
            paramsT = np.empty_like(params)
            _fast.refresh_transposes(params, paramsT, sizes)
            Xc = net._check_X(X)
            zbuf, abuf, dbuf = net._work(X.shape[0])
            _fast.forward_pass_fast(params, paramsT, sizes, acts, Xc, zbuf, abuf, zbuf[:0], threaded)
            _fast.backward_pass_fast(params, paramsT, np.empty_like(params), sizes, acts, net._loss_code,
                                     np.ascontiguousarray(Xc.T), net._check_XY(X, Y)[1], np.ones(X.shape[0]),
                                     zbuf, abuf, np.zeros_like(zbuf), dbuf, np.empty_like(dbuf),
                                     threaded)  # fmt: skip

        return call

    return [
        ("fit, tiny networks", tiny_fit),
        ("predict, loss, gradients, tiny networks", public(tiny, Xt, Yt)),
        ("fit, blocked loops", fit(None, None)),
        ("fit, blocked loops + validation", fit(None, True)),
        ("fit, blocked loops, threaded", fit(True, None)),
        ("fit, blocked loops, threaded + validation", fit(True, True)),
        ("predict, loss, gradients, blocked loops", public(net, X, Y)),
        ("forward and backward, blocked loops", blocked_passes(None)),
        ("forward and backward, blocked loops, threaded", blocked_passes(True)),
    ]


def cache_path() -> str:
    """The directory loopnet's kernels are cached in (``NUMBA_CACHE_DIR`` decides its parent)."""
    return _fast.train_epochs_fast.stats.cache_path if hasattr(_fast.train_epochs_fast, "stats") else ""


def warmup(dtypes: Sequence[str] = DTYPES, log: Callable[[str], None] = print) -> list[dict]:
    """Compile (or load from the cache) every kernel loopnet's common paths run, for each dtype.

    Calls each entry point once with arguments of every type a fit, predict, loss or gradients of
    the ``loops`` backend passes, running no epochs. Logs one line per step: what, how many functions
    Numba compiled for it (0: already cached) and the seconds. Returns those lines' data.
    """
    done = []
    for dtype in dtypes:
        dtype = check_dtype(dtype).name
        for what, call in _steps(dtype):
            start = time.perf_counter()
            with event.install_recorder("numba:compile") as rec:
                call()
            seconds = time.perf_counter() - start
            compiled = sorted({e.data["dispatcher"].py_func.__name__ for _, e in rec.buffer if e.is_start})
            done.append({"dtype": dtype, "what": what, "compiled": compiled, "seconds": seconds})
            log(f"{dtype:8} {what:48} {len(compiled):3} functions compiled {seconds:7.1f} s")
    return done
