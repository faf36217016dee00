"""The one place that holds loopnet's Numba options.

Every compiled kernel in loopnet is decorated with :data:`kernel`. Keeping the
options here means a reader can see, in one screen, exactly how the loops are
compiled:

* ``cache=True`` -- the machine code is written to disk (under ``__pycache__``)
  so a second process loads it instead of recompiling. Numba checks each cached
  function against its own file only, but a kernel also bakes in constants and
  inlined kernels from other modules (``LEAKY_SLOPE`` from activations.py in
  kernels.py and fast.py): edit one and the other modules' cached code would
  keep the old value. So every loopnet kernel is cached in a directory named
  after a hash of all the package's sources (``__pycache__/loopnet-<hash>``,
  or under ``NUMBA_CACHE_DIR`` when set) with that hash as its freshness
  stamp: any source edit recompiles everything in the next process
  (tests/test_source_cache.py). Old hash directories are not deleted.
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

Vector width. On CPUs with AVX-512 LLVM still prefers 256-bit vectors for many
Intel models (its ``prefer-256-bit`` tuning, meant for code that only briefly
touches vectors, where 512-bit instructions could lower the clock). loopnet's
kernels spend nearly all their time in long vector loops, where the 512-bit
registers double the work per instruction (the product core went from 21-23 to
28-32 GFLOP/s in float64 on one core of an Emerald Rapids Xeon). With
``LOOPNET_VECTOR_BITS=512`` in the environment, on a CPU with ``avx512f``, every
loopnet function is compiled with LLVM's ``"prefer-vector-width"="512"``
function attribute (:data:`VECTOR_BITS`). It is set per function, through a
compiler pipeline of loopnet's own (:class:`WideCompiler`), so Numba code
outside loopnet in the same process is compiled exactly as before. The width is
part of the cache directory's name, so code compiled for one width is never
loaded for the other.

It is not the default because of threads: Numba compiles a ``prange`` body as a
function of its own, with its default pipeline, which the attribute does not
reach. The work a ``prange`` body calls is therefore a :data:`band_kernel`,
kept out of line (LLVM ``noinline``) so the thread pool calls the band's wide
code, and a band run by the pool equals the same band run by one thread. But
with 512-bit code, a network's one-thread and two-thread results still came out
one ulp apart in some compile orders (the tests' mix of cached and freshly
compiled kernels), and loopnet promises them equal bit for bit
(tests/test_paths.py). Until every route compiles at one width, 512 stays a
choice the user makes; the default is LLVM's own (256 bits with AVX2 or
AVX-512).

Setting the environment variable ``NUMBA_DISABLE_JIT=1`` runs every kernel as
plain Python, which is how a learner steps through a loop in a debugger.
"""

from __future__ import annotations

import hashlib
import os
from typing import ClassVar

import llvmlite.binding as llvm
import numba
from numba.core import caching, compiler, lowering, typed_passes
from numba.core.compiler_machinery import register_pass
from numba.misc.appdirs import AppDirs
from numba.parfors.parfor_lowering import ParforLower

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))


def _source_hash(package: str) -> str:
    """sha256 over every .py file of the package: relative path, size and contents, in path order."""
    files = []
    for root, dirs, names in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        files += [os.path.join(root, name) for name in names if name.endswith(".py")]
    digest = hashlib.sha256()
    for relative in sorted(os.path.relpath(path, package).replace(os.sep, "/") for path in files):
        with open(os.path.join(package, relative), "rb") as f:
            data = f.read()
        digest.update(b"%s\0%d\0%s" % (relative.encode(), len(data), data))
    return digest.hexdigest()


SOURCE_HASH = _source_hash(PACKAGE_DIR)
"""The hash every loopnet kernel is cached under (see the module docstring)."""


def _vector_bits(features: str, override: str | None) -> int:
    """The SIMD width to compile for: 256 (128 without AVX), or ``override`` where the CPU has it.

    ``features`` is LLVM's feature string of the host CPU (``+avx512f,+avx2,...``).
    """
    have = set(features.split(","))
    widest = 512 if "+avx512f" in have else 256 if "+avx" in have else 128
    if override in (None, ""):
        return min(widest, 256)
    if override not in ("128", "256", "512"):
        raise ValueError(f"LOOPNET_VECTOR_BITS must be 128, 256 or 512, got {override!r}")
    return min(widest, int(override))


_HOST_FEATURES: str = numba.config.CPU_FEATURES or llvm.get_host_cpu_features().flatten()

VECTOR_BITS: int = _vector_bits(_HOST_FEATURES, os.environ.get("LOOPNET_VECTOR_BITS"))
"""The widest vectors loopnet's compiled loops use on this CPU: 512, 256 or 128 bits (see the docstring)."""


class SourceHashLocator(caching._CacheLocator):
    """Numba cache locator for loopnet's own functions: ``<base>/loopnet-<hash>``, stamped with the hash.

    The base is the first writable of ``NUMBA_CACHE_DIR`` (when set), the package's ``__pycache__``
    and Numba's user-wide cache directory, the order Numba's own locators try.
    """

    def __init__(self, py_func, py_file: str, cache_path: str):
        self._py_file = py_file  # read by Numba when it warns that a function cannot be cached
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = cache_path

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        return SOURCE_HASH

    def get_disambiguator(self) -> str:
        return str(self._lineno)  # as Numba's own locators: the function's first line

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.realpath(py_file).startswith(PACKAGE_DIR + os.sep):
            return None  # not loopnet's: left to Numba's locators
        bases = [numba.config.CACHE_DIR] if numba.config.CACHE_DIR else []
        bases += [os.path.join(PACKAGE_DIR, "__pycache__"), AppDirs("numba", appauthor=False).user_cache_dir]
        for base in bases:
            name = f"loopnet-{SOURCE_HASH[:16]}-v{VECTOR_BITS}"
            locator = cls(py_func, py_file, os.path.join(base, name))
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            return locator
        return None


# Ahead of Numba's locators, once: a re-import replaces the class instead of adding a second one.
_IMPL = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # the older Numba name
_IMPL._locator_classes[:] = [SourceHashLocator] + [
    c for c in _IMPL._locator_classes if (c.__module__, c.__qualname__) != (__name__, "SourceHashLocator")
]

HOST_BITS: int = _vector_bits(_HOST_FEATURES, "512")
"""The widest vectors this CPU has (what its multiply-add peak is measured with: loopnet.machine)."""


def _mark(function, bits: int, noinline: bool) -> None:
    """Mark an llvmlite function being lowered for ``bits``-wide vectors (and ``noinline``)."""
    if bits == 512:
        # A string attribute: llvmlite's add() accepts only the keyword ones, so add to the set directly.
        set.add(function.attributes, '"prefer-vector-width"="512"')
    if noinline:
        function.attributes.add("noinline")


class _WideLower(lowering.Lower):
    bits = VECTOR_BITS
    noinline = False

    def post_lower(self):
        super().post_lower()
        _mark(self.function, self.bits, self.noinline)


class _WideParforLower(ParforLower):
    def post_lower(self):
        super().post_lower()
        _mark(self.function, VECTOR_BITS, False)


class _BandLower(_WideLower):
    noinline = True


class _HostLower(_WideLower):
    bits = HOST_BITS


def _lowering_pass(base: type, lower: type, name: str) -> type:
    """Numba's lowering pass ``base`` (NativeLowering or NativeParforLowering), lowering with ``lower``."""
    members = {"_name": name, "lowering_class": property(lambda self: lower)}
    return register_pass(mutates_CFG=True, analysis_only=False)(type(name, (base,), members))


_WideLowering = _lowering_pass(typed_passes.NativeLowering, _WideLower, "loopnet_wide_lowering")
_BandLowering = _lowering_pass(typed_passes.NativeLowering, _BandLower, "loopnet_band_lowering")
_HostLowering = _lowering_pass(typed_passes.NativeLowering, _HostLower, "loopnet_host_width_lowering")
_WideParforLowering = _lowering_pass(
    typed_passes.NativeParforLowering, _WideParforLower, "loopnet_wide_parfor_lowering"
)


class WideCompiler(compiler.CompilerBase):
    """Numba's nopython pipeline with loopnet's lowering: each function gets the vector-width attribute."""

    lowerings: ClassVar[dict] = {
        typed_passes.NativeLowering: _WideLowering,
        typed_passes.NativeParforLowering: _WideParforLowering,
    }

    def define_pipelines(self):
        pipeline = compiler.DefaultPassBuilder.define_nopython_pipeline(self.state)
        pipeline.passes = [(self.lowerings.get(p, p), what) for p, what in pipeline.passes]
        return [pipeline]


class BandCompiler(WideCompiler):
    """:class:`WideCompiler`, and kept out of line (``noinline``): the work of ``prange`` bodies."""

    lowerings: ClassVar[dict] = {typed_passes.NativeLowering: _BandLowering}


class HostWidthCompiler(WideCompiler):
    """:class:`WideCompiler` at the widest vectors the CPU has, whatever LOOPNET_VECTOR_BITS says."""

    lowerings: ClassVar[dict] = {typed_passes.NativeLowering: _HostLowering}


JIT_OPTIONS: dict[str, object] = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": False,  # said out loud: an unset option is inherited from the caller (see below)
    "pipeline_class": WideCompiler,
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

BAND_OPTIONS: dict[str, object] = {**FAST_OPTIONS, "pipeline_class": BandCompiler}

band_kernel = numba.njit(**BAND_OPTIONS)
"""Decorator for the work a ``prange`` body calls: :data:`fast_kernel`, kept out of line (see above)."""

PEAK_OPTIONS: dict[str, object] = {**FAST_OPTIONS, "pipeline_class": HostWidthCompiler}

peak_kernel = numba.njit(**PEAK_OPTIONS)
"""Decorator for the multiply-add peak probe (loopnet.machine): :data:`fast_kernel` at :data:`HOST_BITS`."""
