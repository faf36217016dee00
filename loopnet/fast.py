"""The fast loop kernels: the same equations as ``kernels.py``, still loops, arranged for speed.

``backend="loops"`` runs these. Each one names the plain kernel it equals; the
tests hold every pair equal to rounding (the fast ones may sum in a different
order: see ``_jit.FASTMATH_FLAGS``). What makes them fast, in the order it
matters:

1. **A register-blocked product core.** All three products of a training step
   are written as one shape, ``C = A @ B.T`` with both operands read along
   contiguous rows::

       F1  z      = a_prev @ W          = a_prev     @ (W.T).T     A = a_prev (N, I),  B = W.T (J, I)
       B2  d_prev = delta  @ W.T        = delta      @  W.T        A = delta  (N, J),  B = W   (I, J)
       B3  dW     = a_prev.T @ delta    = a_prev.T   @ (delta.T).T A = a_prev.T (I, N), B = delta.T (J, N)

   :func:`abt_rows4` computes a 4 x 4 block of C in 16 local accumulators while
   the innermost loop runs along both contiguous rows; with ``reassoc`` LLVM
   turns the 16 sums into SIMD reductions. So the network keeps a transposed
   copy of every W (rewritten by each update) and the forward and backward
   passes also write transposed copies of the activations and deltas. C is
   done in panels of PANEL columns, so a panel's rows of B stay in L2 for
   every band; sums of fewer than SHORT_K terms take :func:`ab_band` instead.
2. **Fusion.** Rows are done in bands of four. Once a band of z is summed, the
   bias and the activation are applied to it while it is still in cache
   (F1 + F2); once a band of the back-propagated sum is done, the activation
   derivative is applied to it (B2). The transposed copies are a pass of their
   own, eight rows at a time (a whole cache line per write).
3. **exp and tanh as loops.** :func:`exp_approx` is a polynomial LLVM can
   vectorise (there is no vector math library here, and Numba's ``np.exp`` and
   ``np.tanh`` are scalar libm calls); :func:`tanh_approx` is built on it.
4. **Threads.** ``*_par`` drivers hand the bands to ``prange``. A band is
   always summed by one thread in one fixed order, so the results are
   bit-for-bit the same for any number of threads (tested). Small products stay
   on one thread: waking the pool costs more than they do. What a ``prange``
   body calls is a ``band_kernel`` (``_jit``): compiled once, at loopnet's
   vector width, and called rather than inlined into the thread pool's code.
5. **Whole runs in one call.** ``train_epochs_fast`` runs a chunk of epochs
   (batches, optimizer updates, validation, the stopping rules); the work
   buffers are allocated once per fit, by the caller.
6. **Tiny networks** (SMALL_MAX_WORK) take :func:`train_epochs_small` instead:
   the plain loops on flat offsets, without the views and transposes that cost
   more than their arithmetic; it gives the plain loops' numbers bit for bit.

The functions at the bottom (:func:`forward_pass`, :func:`backward_pass`,
:func:`train_epochs`) have the plain kernels' signatures: they allocate the
transposed buffers and call the compiled whole-network kernels, so
``loopnet.Network`` can swap backends without knowing any of this.
"""

from __future__ import annotations

import itertools
import math

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

from . import kernels as _plain
from ._jit import band_kernel, fast_kernel, kernel, parallel_kernel
from .activations import (
    EXP,
    IDENTITY,
    LEAKY_RELU,
    LEAKY_SLOPE,
    RELU,
    SIGMOID,
    SOFTMAX,
    TANH,
    activate_scalar,
    derivative_scalar,
)
from .kernels import (
    ADAMW,
    PLAIN_SGD,
    RUNNING,
    SGD,
    end_of_epoch,
    gather_rows,
    gather_values,
    loss_value,
    output_delta,
    param_views_c,
    shuffle,
    work_view_c,
)
from .losses import BCE, MSE, POISSON, SSE

PARALLEL_MIN_WORK = 1 << 19
"""Products with fewer multiply-adds than this (N * I * J) stay on one thread.

On this 2-core machine a parallel region costs about 1.5 us when the other core
is idle, but can cost 100 us or more when another process holds it, and small
products are where that cost shows (the digits network at batch 32 ran 30x
slower threaded than on one thread while a second job was running). Above
half a million multiply-adds a product takes a quarter of a millisecond or
more on one core, and two threads pay even with something else running.
"""

# --- exp, written so that a loop of it vectorises ----------------------------


if numba.config.DISABLE_JIT:  # plain Python (NUMBA_DISABLE_JIT=1): reinterpret through NumPy

    def _float64_from_bits(bits):
        """Reinterpret the 64 bits of an int64 as a float64 (no conversion)."""
        return np.array(bits, dtype=np.int64).view(np.float64)[()]

else:

    @intrinsic
    def _float64_from_bits(typingctx, bits):
        """Reinterpret the 64 bits of an int64 as a float64 (no conversion)."""
        sig = types.float64(types.int64)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.DoubleType())

        return sig, codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two: k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -708.0  # exp(-708) = 3.3e-308, near the smallest normal float64: below it, return 0
_EXP_MAX = 709.782712893384  # log of the largest float64: above it, return inf


@kernel
def exp_approx(x):
    """exp(x) for a float64 x, within 2 ulp, as branch-free arithmetic LLVM can vectorise.

    exp(x) = 2^k * exp(r),  k = round(x / ln 2),  r = x - k ln 2  in [-ln2/2, ln2/2]

    exp(r) is its Taylor series to r^13 (the next term is below 4e-18 of the
    sum), 2^k is built directly in the float's exponent bits. Compiled without
    fastmath: reassociation would undo the two-part ln 2 that keeps r exact.
    Returns 0 for x < -708 (exp is below 3.3e-308 there), inf above
    log(max float64) and NaN for NaN.
    """
    t = x
    if t < _EXP_MIN:
        t = _EXP_MIN
    if t > _EXP_MAX:
        t = _EXP_MAX
    k = np.floor(t * _LOG2E + 0.5)
    r = (t - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0  # 1/13!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    y = p * _float64_from_bits((np.int64(k) + 1022) << 52) * 2.0  # 2^(k-1) * 2: k = 1024 stays finite
    if x < _EXP_MIN:
        y = 0.0
    if x > _EXP_MAX:
        y = np.inf
    return y


@kernel
def tanh_small(x):
    """tanh(x) for |x| < 0.5, within 2 ulp: tanh|x| = e / (e + 2), e = expm1(2|x|) by its Taylor series.

    No cancellation near 0, where (1 - t) / (1 + t) would lose every digit.
    Vectorises; meaningless for |x| >= 0.5 (see tanh_approx).
    """
    r = 2.0 * abs(x)
    p = 1.0 / 6402373705728000.0  # 1/18!: for r <= 1 the first term left out, r^19/19!, is below 1e-17
    p = p * r + 1.0 / 355687428096000.0  # 1/17!
    p = p * r + 1.0 / 20922789888000.0  # 1/16!
    p = p * r + 1.0 / 1307674368000.0  # 1/15!
    p = p * r + 1.0 / 87178291200.0  # 1/14!
    p = p * r + 1.0 / 6227020800.0  # 1/13!
    p = p * r + 1.0 / 479001600.0  # 1/12!
    p = p * r + 1.0 / 39916800.0  # 1/11!
    p = p * r + 1.0 / 3628800.0  # 1/10!
    p = p * r + 1.0 / 362880.0  # 1/9!
    p = p * r + 1.0 / 40320.0  # 1/8!
    p = p * r + 1.0 / 5040.0  # 1/7!
    p = p * r + 1.0 / 720.0  # 1/6!
    p = p * r + 1.0 / 120.0  # 1/5!
    p = p * r + 1.0 / 24.0  # 1/4!
    p = p * r + 1.0 / 6.0  # 1/3!
    p = p * r + 1.0 / 2.0  # 1/2!
    p = p * r + 1.0 / 1.0  # 1/1!
    e = p * r
    return math.copysign(e / (e + 2.0), x)


@kernel
def tanh_large(x):
    """tanh(x) for |x| >= 0.5, within 2 ulp: tanh|x| = (1 - t) / (1 + t), t = exp(-2|x|) <= 1/e.

    +-inf gives +-1 and NaN stays NaN. Vectorises.
    """
    t = exp_approx(-2.0 * abs(x))
    return math.copysign((1.0 - t) / (1.0 + t), x)


@kernel
def tanh_approx(x):
    """tanh(x) for a float64 x, within 3 ulp: tanh_small below |x| = 0.5, tanh_large from there.

    Numba's np.tanh is a scalar libm call (15-20 ns). A loop that picks one of
    the two forms per element does not vectorise (LLVM moves the exp into the
    branch), so bias_activate_row does a tanh_large pass, then a tanh_small
    pass where |x| < 0.5: 3x faster than libm.
    """
    if abs(x) < 0.5:
        return tanh_small(x)
    return tanh_large(x)


# --- the product core: C = A @ B.T, 4 x 4 blocks in registers ----------------


@fast_kernel
def abt_rows4(A, B, C, r0, j_lo, j_hi):
    """Rows r0..r0+3, columns j_lo..j_hi-1 of C = A @ B.T, in 4 x 4 blocks held in 16 local sums.

    C[n, j] = sum_k A[n, k] * B[j, k]      (every product of kernels.py in this form)

    A (M, K) and B (J, K) are read along rows, contiguously; each block loads 4
    values of A and 4 of B per k for 16 multiply-adds. Columns left over when
    the panel is not a multiple of 4 wide are done 4 x 1. A (M, K), B (J, K)
    -> C (M, J) rows r0..r0+3, columns j_lo..j_hi-1, overwritten.
    """
    a0 = A[r0]
    a1 = A[r0 + 1]
    a2 = A[r0 + 2]
    a3 = A[r0 + 3]
    K = A.shape[1]
    j_end = j_hi - (j_hi - j_lo) % 4
    zero = C.dtype.type(0)
    for j0 in range(j_lo, j_end, 4):
        b0 = B[j0]
        b1 = B[j0 + 1]
        b2 = B[j0 + 2]
        b3 = B[j0 + 3]
        c00 = c01 = c02 = c03 = zero
        c10 = c11 = c12 = c13 = zero
        c20 = c21 = c22 = c23 = zero
        c30 = c31 = c32 = c33 = zero
        for k in range(K):  # views from 0 and range(K): a runtime start would stop vectorisation
            x0 = a0[k]
            x1 = a1[k]
            x2 = a2[k]
            x3 = a3[k]
            y0 = b0[k]
            y1 = b1[k]
            y2 = b2[k]
            y3 = b3[k]
            c00 += x0 * y0
            c01 += x0 * y1
            c02 += x0 * y2
            c03 += x0 * y3
            c10 += x1 * y0
            c11 += x1 * y1
            c12 += x1 * y2
            c13 += x1 * y3
            c20 += x2 * y0
            c21 += x2 * y1
            c22 += x2 * y2
            c23 += x2 * y3
            c30 += x3 * y0
            c31 += x3 * y1
            c32 += x3 * y2
            c33 += x3 * y3
        C[r0, j0] = c00
        C[r0, j0 + 1] = c01
        C[r0, j0 + 2] = c02
        C[r0, j0 + 3] = c03
        C[r0 + 1, j0] = c10
        C[r0 + 1, j0 + 1] = c11
        C[r0 + 1, j0 + 2] = c12
        C[r0 + 1, j0 + 3] = c13
        C[r0 + 2, j0] = c20
        C[r0 + 2, j0 + 1] = c21
        C[r0 + 2, j0 + 2] = c22
        C[r0 + 2, j0 + 3] = c23
        C[r0 + 3, j0] = c30
        C[r0 + 3, j0 + 1] = c31
        C[r0 + 3, j0 + 2] = c32
        C[r0 + 3, j0 + 3] = c33
    for j in range(j_end, j_hi):
        b = B[j]
        c0 = c1 = c2 = c3 = zero
        for k in range(K):
            y = b[k]
            c0 += a0[k] * y
            c1 += a1[k] * y
            c2 += a2[k] * y
            c3 += a3[k] * y
        C[r0, j] = c0
        C[r0 + 1, j] = c1
        C[r0 + 2, j] = c2
        C[r0 + 3, j] = c3


@fast_kernel
def abt_row1(A, B, C, r, j_lo, j_hi):
    """Row r, columns j_lo..j_hi-1 of C = A @ B.T, four columns at a time (rows left by abt_rows4)."""
    a = A[r]
    K = A.shape[1]
    j_end = j_hi - (j_hi - j_lo) % 4
    zero = C.dtype.type(0)
    for j0 in range(j_lo, j_end, 4):
        b0 = B[j0]
        b1 = B[j0 + 1]
        b2 = B[j0 + 2]
        b3 = B[j0 + 3]
        c0 = c1 = c2 = c3 = zero
        for k in range(K):
            x = a[k]
            c0 += x * b0[k]
            c1 += x * b1[k]
            c2 += x * b2[k]
            c3 += x * b3[k]
        C[r, j0] = c0
        C[r, j0 + 1] = c1
        C[r, j0 + 2] = c2
        C[r, j0 + 3] = c3
    for j in range(j_end, j_hi):
        b = B[j]
        c = zero
        for k in range(K):
            c += a[k] * b[k]
        C[r, j] = c


@band_kernel
def abt_band(A, B, C, band, j_lo, j_hi):
    """Rows 4 band .. 4 band + 3 (fewer in the last band), columns j_lo..j_hi-1 of C = A @ B.T.

    Returns how many rows.
    """
    r0 = 4 * band
    rows = min(4, A.shape[0] - r0)
    if rows == 4:
        abt_rows4(A, B, C, r0, j_lo, j_hi)
    else:
        for r in range(r0, r0 + rows):
            abt_row1(A, B, C, r, j_lo, j_hi)
    return rows


PANEL = 64
"""Columns of C (rows of B) per panel: 64 rows of B of up to ~1000 terms stay in L2 across all bands."""


@fast_kernel
def panel_width(K, J):
    """How many columns of C a panel of a K-term product takes (all of them for short sums)."""
    return J if K < SHORT_K else PANEL


SHORT_K = 16
"""Below this many terms per sum, a product takes ab_band: too few k for SIMD reductions to pay."""


@fast_kernel
def ab_band(A, B, C, band):
    """Rows 4 band .. 4 band + 3 of C = A @ B, B read along its rows (for short sums).

    C[n, j] = sum_k A[n, k] * B[k, j]

    Each k adds A[n, k] times row k of B to row n of C: the loop over j is
    contiguous and vectorises with no reduction, which wins when K is a
    handful (the 10 outputs of a classifier in B2, a batch of one in B3).
    A (M, K), B (K, J) -> C (M, J) rows of the band, overwritten; returns how many.
    """
    r0 = 4 * band
    rows = min(4, A.shape[0] - r0)
    J = B.shape[1]
    zero = C.dtype.type(0)
    for n in range(r0, r0 + rows):
        c = C[n]
        for j in range(J):
            c[j] = zero
    for k in range(A.shape[1]):
        b = B[k]
        for n in range(r0, r0 + rows):
            x = A[n, k]
            c = C[n]
            for j in range(J):
                c[j] += x * b[j]
    return rows


@band_kernel
def product_band(A, BT, B, C, band, j_lo, j_hi):
    """A band of rows, panel of columns of C = A @ B, given B both ways round (BT = B.T and B).

    abt_band (4 x 4 blocks, sums along contiguous rows of A and BT) unless the
    sums have fewer than SHORT_K terms, then ab_band (whose panel is always
    every column: see panel_width). Returns how many rows.
    """
    if A.shape[1] < SHORT_K:
        return ab_band(A, B, C, band)
    return abt_band(A, BT, C, band, j_lo, j_hi)


@fast_kernel
def abt_product(A, B, C):
    """C = A @ B.T on one thread: the product core alone (benchmarks and tests).

    C[n, j] = sum_k A[n, k] * B[j, k];  A (M, K), B (J, K) -> C (M, J).

    Panels of PANEL columns outside, bands of four rows inside: a panel's rows
    of B are read from L2 by every band (15% faster than whole rows of C at
    256 x 784 x 256 in float64).
    """
    J = B.shape[0]
    for j_lo in range(0, J, PANEL):
        for band in range((A.shape[0] + 3) // 4):
            abt_band(A, B, C, band, j_lo, min(J, j_lo + PANEL))


@parallel_kernel
def abt_product_par(A, B, C):
    """C = A @ B.T with the bands of each panel shared among Numba's threads."""
    J = B.shape[0]
    for j_lo in range(0, J, PANEL):
        for band in prange((A.shape[0] + 3) // 4):
            abt_band(A, B, C, band, j_lo, min(J, j_lo + PANEL))


# --- element-wise epilogues, one row at a time -----------------------------


@fast_kernel
def bias_activate_row(code, b, z, a):
    """F1's bias and F2 on one row: z[j] += b[j], then a[j] = f(z[j]) (softmax over the row).

    Equals kernels.activate after kernels.dense_forward's bias, with exp_approx
    and tanh_approx for exp and tanh. Sums, exps and tanh are done in float64
    whatever the dtype.
    b, z, a (J,); z and a written in place.
    """
    J = z.shape[0]
    for j in range(J):
        z[j] += b[j]
    zero = a.dtype.type(0)
    if code == SIGMOID:
        for j in range(J):  # 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below: never exp of a positive
            v = np.float64(z[j])
            e = exp_approx(-abs(v))
            a[j] = (1.0 if v >= 0 else e) / (1.0 + e)
    elif code == TANH:  # two passes: one form per loop vectorises, a choice inside one loop does not
        for j in range(J):
            a[j] = tanh_large(np.float64(z[j]))
        for j in range(J):
            v = np.float64(z[j])
            s = tanh_small(v)
            a[j] = s if abs(v) < 0.5 else a[j]
    elif code == RELU:
        for j in range(J):
            v = z[j]
            a[j] = v if v > 0 else zero * v
    elif code == LEAKY_RELU:
        slope = a.dtype.type(LEAKY_SLOPE)
        for j in range(J):
            v = z[j]
            a[j] = v if v > 0 else slope * v
    elif code == SOFTMAX:
        m = z[0]
        for j in range(1, J):
            m = max(m, z[j])
        total = 0.0
        for j in range(J):
            e = exp_approx(np.float64(z[j] - m))
            a[j] = e
            total += e
        scale = 1.0 / total
        for j in range(J):
            a[j] *= scale
    elif code == EXP:  # inf above z = 709.78, as np.exp: the divergence check reports it
        for j in range(J):
            a[j] = exp_approx(np.float64(z[j]))
    else:  # identity
        for j in range(J):
            a[j] = z[j]


@fast_kernel
def derivative_row(code, z, a, d):
    """B2's last factor on one row: d[i] *= f'(z[i]), using a = f(z) where that is cheaper.

    Same formulas as activations.derivative_scalar, with constants of the row's dtype.
    z, a (I,) of the previous layer; d (I,) written in place.
    """
    I = d.shape[0]
    one = d.dtype.type(1)
    zero = d.dtype.type(0)
    if code == SIGMOID:
        for i in range(I):
            d[i] *= a[i] * (one - a[i])
    elif code == TANH:
        for i in range(I):
            d[i] *= one - a[i] * a[i]
    elif code == RELU:
        for i in range(I):
            d[i] *= one if z[i] > 0 else zero
    elif code == LEAKY_RELU:
        slope = d.dtype.type(LEAKY_SLOPE)
        for i in range(I):
            d[i] *= one if z[i] > 0 else slope
    # identity: f' = 1 (softmax and exp are output-only: B2 never meets them)


@band_kernel
def transpose_rows8(src, dst, block):
    """dst[:, r] = src[r, :] for the rows r of block 8 block .. 8 block + 7 (fewer at the end).

    Each row of dst gets 8 contiguous values, a whole cache line: 3-4x faster
    than a 16 x 16 tiled loop or NumPy's copy here, and two threads never write
    into the same line.
    """
    r0 = 8 * block
    rows = min(8, src.shape[0] - r0)
    for c in range(src.shape[1]):
        d = dst[c]
        for k in range(rows):
            d[r0 + k] = src[r0 + k, c]


@fast_kernel
def transpose(src, dst):
    """dst = src.T on one thread, 8 rows of src at a time. src (R, C) -> dst (C, R)."""
    for block in range((src.shape[0] + 7) // 8):
        transpose_rows8(src, dst, block)


@parallel_kernel
def transpose_par(src, dst):
    """dst = src.T, the blocks of 8 rows shared among threads."""
    for block in prange((src.shape[0] + 7) // 8):
        transpose_rows8(src, dst, block)


# --- one layer: fused steps, a band of four rows at a time ----------------


@band_kernel
def dense_forward_band(a_prev, W, WT, b, code, z, a, band, j_lo, j_hi):
    """F1 + F2 for rows 4 band .. 4 band + 3 (equals kernels.dense_forward then kernels.activate).

    z[n, j] = b[j] + sum_i a_prev[n, i] * WT[j, i];   a[n, j] = f(z[n, j])

    Sums the panel j_lo..j_hi-1 of z; with the last panel the band's rows are
    complete, and get their bias and activation while still in cache.
    a_prev (N, I), W (I, J) and WT = W.T, b (J,) -> z, a (N, J).
    """
    r0 = 4 * band
    rows = product_band(a_prev, WT, W, z, band, j_lo, j_hi)
    if j_hi == z.shape[1]:
        for n in range(r0, r0 + rows):
            bias_activate_row(code, b, z[n], a[n])


@fast_kernel
def dense_forward_fast(a_prev, W, WT, b, code, z, a, aT):
    """F1 + F2 for a batch on one thread (see dense_forward_band); then aT = a.T unless aT is empty.

    The transposed copy is a pass of its own: written column by column from
    inside the bands it cost 7x more (one cache line per value).
    """
    J = z.shape[1]
    panel = panel_width(a_prev.shape[1], J)
    for j_lo in range(0, J, panel):
        for band in range((a_prev.shape[0] + 3) // 4):
            dense_forward_band(a_prev, W, WT, b, code, z, a, band, j_lo, min(J, j_lo + panel))
    if aT.shape[1] > 0:
        transpose(a, aT)


@parallel_kernel
def dense_forward_par(a_prev, W, WT, b, code, z, a, aT):
    """F1 + F2 for a batch, bands shared among threads (see dense_forward_fast)."""
    J = z.shape[1]
    panel = panel_width(a_prev.shape[1], J)
    for j_lo in range(0, J, panel):
        for band in prange((a_prev.shape[0] + 3) // 4):
            dense_forward_band(a_prev, W, WT, b, code, z, a, band, j_lo, min(J, j_lo + panel))
    if aT.shape[1] > 0:
        transpose_par(a, aT)


@band_kernel
def backprop_delta_band(delta, W, WT, code, z_prev, a_prev, delta_prev, band, i_lo, i_hi):
    """B2 for rows 4 band .. 4 band + 3 (equals kernels.backprop_delta).

    delta_prev[n, i] = (sum_j delta[n, j] * W[i, j]) * f'(z_prev[n, i])

    Sums the panel i_lo..i_hi-1; with the last panel the band's rows get the
    derivative while still in cache.
    delta (N, J), W (I, J) and WT = W.T, z_prev and a_prev (N, I) -> delta_prev (N, I).
    """
    r0 = 4 * band
    rows = product_band(delta, W, WT, delta_prev, band, i_lo, i_hi)
    if i_hi == delta_prev.shape[1]:
        for n in range(r0, r0 + rows):
            derivative_row(code, z_prev[n], a_prev[n], delta_prev[n])


@fast_kernel
def backprop_delta_fast(delta, W, WT, code, z_prev, a_prev, delta_prev, delta_prevT):
    """B2 for a batch on one thread (see backprop_delta_band); then delta_prevT = delta_prev.T."""
    I = delta_prev.shape[1]
    panel = panel_width(delta.shape[1], I)
    for i_lo in range(0, I, panel):
        for band in range((delta.shape[0] + 3) // 4):
            backprop_delta_band(
                delta, W, WT, code, z_prev, a_prev, delta_prev, band, i_lo, min(I, i_lo + panel)
            )
    transpose(delta_prev, delta_prevT)


@parallel_kernel
def backprop_delta_par(delta, W, WT, code, z_prev, a_prev, delta_prev, delta_prevT):
    """B2 for a batch, bands shared among threads (see backprop_delta_fast)."""
    I = delta_prev.shape[1]
    panel = panel_width(delta.shape[1], I)
    for i_lo in range(0, I, panel):
        for band in prange((delta.shape[0] + 3) // 4):
            backprop_delta_band(
                delta, W, WT, code, z_prev, a_prev, delta_prev, band, i_lo, min(I, i_lo + panel)
            )
    transpose_par(delta_prev, delta_prevT)


@fast_kernel
def weight_grad_fast(a_prevT, deltaT, delta, dW):
    """B3 on one thread (equals kernels.weight_grad): dW = a_prev.T @ delta.

    dW[i, j] = sum_n a_prevT[i, n] * deltaT[j, n]

    a_prevT (I, N), deltaT (J, N) and delta = deltaT.T -> dW (I, J), overwritten; bands of four i.
    """
    J = dW.shape[1]
    panel = panel_width(a_prevT.shape[1], J)
    for j_lo in range(0, J, panel):
        for band in range((a_prevT.shape[0] + 3) // 4):
            product_band(a_prevT, deltaT, delta, dW, band, j_lo, min(J, j_lo + panel))


@parallel_kernel
def weight_grad_par(a_prevT, deltaT, delta, dW):
    """B3 with the bands of i shared among threads (see weight_grad_fast)."""
    J = dW.shape[1]
    panel = panel_width(a_prevT.shape[1], J)
    for j_lo in range(0, J, panel):
        for band in prange((a_prevT.shape[0] + 3) // 4):
            product_band(a_prevT, deltaT, delta, dW, band, j_lo, min(J, j_lo + panel))


@fast_kernel
def bias_grad_fast(deltaT, db):
    """B4 (equals kernels.bias_grad): db[j] = sum_n deltaT[j, n], along contiguous rows."""
    J, N = deltaT.shape
    for j in range(J):
        row = deltaT[j]
        s = db.dtype.type(0)
        for n in range(N):
            s += row[n]
        db[j] = s


@band_kernel
def sgd_update_rows8(W, dW, WT, step, block):
    """U1 for rows 8 block .. 8 block + 7 of one layer's W, writing W.T as it goes.

    W[i, j] -= step * dW[i, j];  WT[j, i] = W[i, j]   (the update and the refresh of W.T in one pass)
    """
    r0 = 8 * block
    rows = min(8, W.shape[0] - r0)
    for c in range(W.shape[1]):
        t = WT[c]
        for k in range(rows):
            w = W[r0 + k, c] - step * dW[r0 + k, c]
            W[r0 + k, c] = w
            t[r0 + k] = w


@fast_kernel
def sgd_update_layer(W, dW, WT, step):
    """U1 for one layer's W and its transpose, on one thread (see sgd_update_rows8)."""
    for block in range((W.shape[0] + 7) // 8):
        sgd_update_rows8(W, dW, WT, step, block)


@parallel_kernel
def sgd_update_layer_par(W, dW, WT, step):
    """U1 for one layer's W and its transpose, blocks of rows shared among threads."""
    for block in prange((W.shape[0] + 7) // 8):
        sgd_update_rows8(W, dW, WT, step, block)


# U2 and U3 do far more arithmetic per parameter than U1 (a square root and a
# division for Adam), so they run along the flat, contiguous parameters, where
# LLVM vectorises them, and W.T is rewritten by a transpose pass afterwards.


@fast_kernel
def momentum_flat(w, g, d, vel, c):
    """U2 (equals kernels.momentum_update) on flat w, gradient g, decay d and velocity vel.

    c = (lr, momentum, dampening, nesterov, first step, -, -).
    """
    t = w.dtype.type
    lr, mu, damp = t(c[0]), t(c[1]), t(1.0 - c[2])
    if mu == 0:
        for p in range(w.shape[0]):
            w[p] = w[p] - lr * (g[p] + d[p] * w[p])
    elif c[4] != 0.0:  # the first step: v = g
        for p in range(w.shape[0]):
            gp = g[p] + d[p] * w[p]
            vel[p] = gp
            w[p] = w[p] - lr * (gp + mu * gp if c[3] != 0.0 else gp)
    elif c[3] != 0.0:  # Nesterov
        for p in range(w.shape[0]):
            gp = g[p] + d[p] * w[p]
            v = mu * vel[p] + damp * gp
            vel[p] = v
            w[p] = w[p] - lr * (gp + mu * v)
    else:
        for p in range(w.shape[0]):
            gp = g[p] + d[p] * w[p]
            v = mu * vel[p] + damp * gp
            vel[p] = v
            w[p] = w[p] - lr * v


@fast_kernel
def adam_flat(w, g, d, m, v, c):
    """U3 (equals kernels.adam_update) on flat w, gradient g, decay d and moments m, v.

    c = (lr, lr / c1, sqrt(c2), beta1, beta2, eps, decoupled). The loops start
    at 0 over whole (sliced) arrays, so LLVM sees plain strides and vectorises
    them, square root and division included.
    """
    t = w.dtype.type
    lr, step_size, root_c2 = t(c[0]), t(c[1]), t(c[2])
    beta1, beta2, eps, one = t(c[3]), t(c[4]), t(c[5]), t(1.0)
    if c[6] != 0.0:  # AdamW: decoupled weight decay
        for p in range(w.shape[0]):
            gp = g[p]
            mp = m[p] + (one - beta1) * (gp - m[p])
            vp = beta2 * v[p] + (one - beta2) * gp * gp
            m[p] = mp
            v[p] = vp
            w[p] = w[p] * (one - lr * d[p]) - step_size * (mp / (np.sqrt(vp) / root_c2 + eps))
    else:
        for p in range(w.shape[0]):
            gp = g[p] + d[p] * w[p]
            mp = m[p] + (one - beta1) * (gp - m[p])
            vp = beta2 * v[p] + (one - beta2) * gp * gp
            m[p] = mp
            v[p] = vp
            w[p] = w[p] - step_size * (mp / (np.sqrt(vp) / root_c2 + eps))


@band_kernel
def update_flat(kind, w, g, d, m, v, c, lo, hi):
    """U2 or U3, by the optimizer's kind, on entries lo .. hi - 1 of the flat arrays (as slices)."""
    if kind == SGD:
        momentum_flat(w[lo:hi], g[lo:hi], d[lo:hi], m[lo:hi], c)
    else:
        adam_flat(w[lo:hi], g[lo:hi], d[lo:hi], m[lo:hi], v[lo:hi], c)


FLAT_BLOCK = 4096
"""Entries per block of a threaded U2 or U3 update."""


@parallel_kernel
def update_flat_par(kind, w, g, d, m, v, c, lo, hi):
    """update_flat on entries lo .. hi - 1, blocks of FLAT_BLOCK shared among threads."""
    for block in prange((hi - lo + FLAT_BLOCK - 1) // FLAT_BLOCK):
        start = lo + block * FLAT_BLOCK
        update_flat(kind, w, g, d, m, v, c, start, min(start + FLAT_BLOCK, hi))


@kernel
def coefficients(opt, lr):
    """The scalars one update needs, as the fast kernels take them (see momentum_flat, adam_flat).

    Counts the step first, as kernels.update does.
    """
    opt.step[0] += 1
    t = opt.step[0]
    if opt.kind == SGD:
        nesterov = 1.0 if opt.nesterov else 0.0
        return (lr, opt.momentum, opt.dampening, nesterov, 1.0 if t == 1 else 0.0, 0.0, 0.0)
    if opt.kind == PLAIN_SGD:
        return (lr, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return (lr, lr / (1.0 - opt.beta1**t), np.sqrt(1.0 - opt.beta2**t), opt.beta1, opt.beta2,
            _plain.adam_eps(opt, t), 1.0 if opt.kind == ADAMW else 0.0)  # fmt: skip


@band_kernel
def gather_transpose_rows8(X, order, start, Xm, XmT, block):
    """Rows 8 block .. 8 block + 7 of a minibatch: Xm[r] = X[order[start + r]] and XmT = Xm.T."""
    r0 = 8 * block
    rows = min(8, Xm.shape[0] - r0)
    for k in range(rows):
        src = X[order[start + r0 + k]]
        dst = Xm[r0 + k]
        for c in range(dst.shape[0]):
            dst[c] = src[c]
    for c in range(Xm.shape[1]):
        t = XmT[c]
        for k in range(rows):
            t[r0 + k] = Xm[r0 + k, c]


@fast_kernel
def gather_transpose(X, order, start, Xm, XmT):
    """A minibatch of X's rows and its transpose, on one thread (see gather_transpose_rows8)."""
    for block in range((Xm.shape[0] + 7) // 8):
        gather_transpose_rows8(X, order, start, Xm, XmT, block)


@parallel_kernel
def gather_transpose_par(X, order, start, Xm, XmT):
    """A minibatch of X's rows and its transpose, blocks of rows shared among threads."""
    for block in prange((Xm.shape[0] + 7) // 8):
        gather_transpose_rows8(X, order, start, Xm, XmT, block)


# --- the whole network ------------------------------------------------------
#
# Besides kernels.py's flat buffers, the fast kernels keep transposed copies:
# ``paramsT`` has the layout of ``params`` with each W replaced by W.T (J x I,
# the biases unused); ``aTbuf`` and ``dTbuf`` hold each layer's a.T and
# delta.T (n_l x N) at the offsets work_view uses; ``XT`` is the batch's X.T.


@fast_kernel
def transposed_view(buf, sizes, l, N):
    """Layer l's (n_l, N) block of a transposed work buffer (aTbuf, dTbuf)."""
    flat = work_view_c(buf, sizes, l, N)
    return flat.reshape((flat.shape[1], flat.shape[0]))


@fast_kernel
def weight_t_view(paramsT, sizes, l):
    """Layer l's W.T (J, I) inside paramsT."""
    W, _ = param_views_c(paramsT, sizes, l)
    return W.reshape((W.shape[1], W.shape[0]))


@fast_kernel
def refresh_transposes(params, paramsT, sizes):
    """paramsT's W.T = params' W for every layer (once per chunk: update_all keeps it current)."""
    for l in range(sizes.shape[0] - 1):
        W, _ = param_views_c(params, sizes, l)
        transpose(W, weight_t_view(paramsT, sizes, l))


@fast_kernel
def use_threads(threaded, N, I, J):
    """Whether a product of N x I x J multiply-adds goes to the thread pool.

    The whole-network kernels also take ``threaded=None``: their callers then know no product of the
    call reaches PARALLEL_MIN_WORK. Every call site tests ``threaded is not None`` first, a test Numba
    settles from the argument's type before typing the branch, so a None build never compiles the
    ``*_par`` drivers (a third of a cold start) nor links them in.
    """
    return threaded and N * I * J >= PARALLEL_MIN_WORK


@fast_kernel
def update_all(opt, params, paramsT, grads, sizes, lr, threaded):
    """One optimizer step for every layer (equals kernels.update), refreshing each W.T.

    U1 writes W and W.T in one pass (sgd_update_rows8); U2 and U3 update the
    layer's flat parameters (vectorised), then transpose W into W.T.
    """
    c = coefficients(opt, lr)
    step = params.dtype.type(lr)
    off = 0
    for l in range(sizes.shape[0] - 1):
        W, b = param_views_c(params, sizes, l)
        dW, db = param_views_c(grads, sizes, l)
        WT = weight_t_view(paramsT, sizes, l)
        I, J = W.shape
        big = threaded is not None and use_threads(threaded, 8, I, J)  # memory-bound: threads pay sooner
        if opt.kind == PLAIN_SGD:
            for j in range(J):
                b[j] -= step * db[j]
            if threaded is not None and big:
                sgd_update_layer_par(W, dW, WT, step)
            else:
                sgd_update_layer(W, dW, WT, step)
        else:
            update_flat(opt.kind, params, grads, opt.decay, opt.m, opt.v, c, off + I * J, off + I * J + J)
            if threaded is not None and big:
                update_flat_par(opt.kind, params, grads, opt.decay, opt.m, opt.v, c, off, off + I * J)
                transpose_par(W, WT)
            else:
                update_flat(opt.kind, params, grads, opt.decay, opt.m, opt.v, c, off, off + I * J)
                transpose(W, WT)
        off += I * J + J


@fast_kernel
def forward_pass_fast(params, paramsT, sizes, acts, X, zbuf, abuf, aTbuf, threaded):
    """F1 + F2 for every layer (equals kernels.forward_pass).

    Also fills aTbuf with each hidden layer's a.T for B3, unless aTbuf is empty.
    """
    N = X.shape[0]
    L = sizes.shape[0] - 1
    for l in range(L):
        W, b = param_views_c(params, sizes, l)
        WT = weight_t_view(paramsT, sizes, l)
        a_prev = X if l == 0 else work_view_c(abuf, sizes, l - 1, N)
        z = work_view_c(zbuf, sizes, l, N)
        a = work_view_c(abuf, sizes, l, N)
        if l < L - 1 and aTbuf.shape[0] > 0:
            aT = transposed_view(aTbuf, sizes, l, N)
        else:
            aT = aTbuf[:0].reshape((0, 0))
        if threaded is not None and use_threads(threaded, N, sizes[l], sizes[l + 1]):
            dense_forward_par(a_prev, W, WT, b, acts[l], z, a, aT)
        else:
            dense_forward_fast(a_prev, W, WT, b, acts[l], z, a, aT)


@fast_kernel
def backward_pass_fast(params, paramsT, grads, sizes, acts, loss_code, XT, Y, sw, zbuf, abuf, aTbuf, dbuf,
                       dTbuf, threaded):  # fmt: skip
    """B1, then B3, B4 and B2 layer by layer (equals kernels.backward_pass).

    Needs forward_pass_fast's zbuf, abuf and aTbuf for the same batch, whose
    transpose is XT (n0, N); sw (N,) are its sample weights. Writes every delta (and delta.T) and the flat
    grads.
    """
    N = XT.shape[1]
    L = sizes.shape[0] - 1
    delta = work_view_c(dbuf, sizes, L - 1, N)
    output_delta(loss_code, acts[L - 1], work_view_c(zbuf, sizes, L - 1, N),
                 work_view_c(abuf, sizes, L - 1, N), Y, sw, delta)  # fmt: skip
    transpose(delta, transposed_view(dTbuf, sizes, L - 1, N))
    for l in range(L - 1, -1, -1):
        I = sizes[l]
        J = sizes[l + 1]
        delta = work_view_c(dbuf, sizes, l, N)
        deltaT = transposed_view(dTbuf, sizes, l, N)
        dW, db = param_views_c(grads, sizes, l)
        a_prevT = XT if l == 0 else transposed_view(aTbuf, sizes, l - 1, N)
        if threaded is not None and use_threads(threaded, N, I, J):
            weight_grad_par(a_prevT, deltaT, delta, dW)
        else:
            weight_grad_fast(a_prevT, deltaT, delta, dW)
        bias_grad_fast(deltaT, db)
        if l > 0:
            W, _ = param_views_c(params, sizes, l)
            args = (
                delta,
                W,
                weight_t_view(paramsT, sizes, l),
                acts[l - 1],
                work_view_c(zbuf, sizes, l - 1, N),
                work_view_c(abuf, sizes, l - 1, N),
                work_view_c(dbuf, sizes, l - 1, N),
                transposed_view(dTbuf, sizes, l - 1, N),
            )
            if threaded is not None and use_threads(threaded, N, I, J):
                backprop_delta_par(*args)
            else:
                backprop_delta_fast(*args)


@fast_kernel
def is_small_c(sizes, rows):
    """fast.is_small, for compiled code."""
    work = 0
    for l in range(sizes.shape[0] - 1):
        work += sizes[l] * sizes[l + 1]
    return rows * work <= _SMALL_MAX_WORK_COMPILED


@fast_kernel
def validation_loss_fast(net, run, threaded):
    """kernels.validation_loss by the loops Network.loss takes for as many rows (so the same number).

    Called by train_epochs_fast only, whose update_all keeps run.paramsT (the W.T copies) current.
    """
    Nv = run.Xv.shape[0]
    if is_small_c(net.sizes, Nv):
        return _plain.validation_loss(net, run)
    L = net.sizes.shape[0] - 1
    forward_pass_fast(net.params, run.paramsT, net.sizes, net.acts, run.Xv, run.zv, run.av, run.aTbuf[:0],
                      threaded)  # fmt: skip
    return loss_value(net.loss_code, work_view_c(run.zv, net.sizes, L - 1, Nv),
                      work_view_c(run.av, net.sizes, L - 1, Nv), run.Yv, run.swv)  # fmt: skip


@fast_kernel
def train_epochs_fast(net, opt, run, first, count, threaded, validate):
    """A chunk of epochs of a fit (equals kernels.train_epochs).

    ``threaded`` is None when no product of the fit reaches the thread pool, and ``validate`` None
    without validation rows: each None is a build of its own without that code (see use_threads), so a
    fit compiles only the variant it runs.

    The same epochs, shuffles, batches, updates and history as the plain
    kernel; the only extra work per step is the transposed copies (X.T of the
    batch, made as its rows are gathered, and W.T, written by the update).
    Nothing is allocated inside the epoch loop.
    """
    N, n0 = run.X.shape
    nL = run.Y.shape[1]
    sizes = net.sizes
    L = sizes.shape[0] - 1
    B = min(run.batch_size, N)
    total_weight = 0.0
    for n in range(N):
        total_weight += run.sw[n]
    refresh_transposes(net.params, run.paramsT, sizes)
    for e in range(first, first + count):
        if run.shuffle and B < N:
            shuffle(run.order, run.rng_state)
        total = 0.0
        for start in range(0, N, B):
            m = min(B, N - start)
            Xm = run.Xb[: m * n0].reshape((m, n0))
            XmT = run.XbT[: m * n0].reshape((n0, m))
            Ym = run.Yb[: m * nL].reshape((m, nL))
            wm = run.wb[:m]
            if threaded is not None and use_threads(threaded, 8, m, n0):
                gather_transpose_par(run.X, run.order, start, Xm, XmT)
            else:
                gather_transpose(run.X, run.order, start, Xm, XmT)
            gather_rows(run.Y, run.order, start, Ym)
            batch_weight = gather_values(run.sw, run.order, start, wm)
            forward_pass_fast(net.params, run.paramsT, sizes, net.acts, Xm, run.zbuf, run.abuf, run.aTbuf,
                              threaded)  # fmt: skip
            batch_loss = loss_value(net.loss_code, work_view_c(run.zbuf, sizes, L - 1, m),
                                    work_view_c(run.abuf, sizes, L - 1, m), Ym, wm)  # fmt: skip
            # a full batch's share is 1 exactly: under FASTMATH_FLAGS, batch_weight (gathered in another
            # order) over total_weight can miss 1 by a bit, and history["loss"] is loss(X, Y) at full batch
            share = 1.0 if net.loss_code == SSE or m == N else batch_weight / total_weight
            total += batch_loss * share
            backward_pass_fast(net.params, run.paramsT, net.grads, sizes, net.acts, net.loss_code, XmT, Ym,
                               wm, run.zbuf, run.abuf, run.aTbuf, run.dbuf, run.dTbuf, threaded)  # fmt: skip
            total += _plain.batch_penalty(net, run, start // B, batch_loss, batch_weight) * share
            update_all(opt, net.params, run.paramsT, net.grads, sizes, run.lrs[e], threaded)
        run.losses[e] = total
        if validate is not None and run.Xv.shape[0] > 0:
            run.val_losses[e] = validation_loss_fast(net, run, threaded)
        status = end_of_epoch(net, opt, run, e)
        if status != RUNNING:
            return e - first + 1, status
    return count, RUNNING


# --- tiny networks: the plain loops over flat offsets ----------------------
#
# For the articles' networks (a few units, a few rows) the arithmetic of an
# epoch is a few hundred multiply-adds, less than the cost of making the array
# views the kernels above pass around. So this kernel indexes the flat buffers
# directly, copies a batch's rows of X once (once per fit at full batch), and
# sums in exactly the plain kernels' order, without fastmath: it gives the
# plain loops' numbers, bit for bit. bench/cfloor.py holds it against the same
# epoch written as plain C.

SMALL_MAX_WORK = 2048
"""Batches with at most this many multiply-adds per layer pass (rows * sum of I * J) take the tiny path."""

_SMALL_MAX_WORK_COMPILED = SMALL_MAX_WORK
"""The threshold compiled code reads. Numba freezes a global's value when it compiles a function and
``cache=True`` keeps that on disk, so a test patching SMALL_MAX_WORK (to send Python's calls down the
blocked kernels) while something compiled would leave the cache with its value for good."""


@kernel
def output_step_small(loss_code, code, zbuf, abuf, dbuf, out, m, Y, wb, S, order, start):
    """The batch loss and B1 on flat offsets, for element-wise output activations.

    The arithmetic of kernels.loss_value and kernels.output_delta, term for
    term (so the same numbers, bit for bit), without the four array views they
    take, which cost a tiny network a third of its epoch. Row n of the batch is
    Y's row order[start + n], its weight wb[n] (S = their sum); its outputs sit
    at zbuf/abuf/dbuf[out + n * K + k]. softmax outputs go through the plain
    kernels instead (train_epochs_small).
    """
    K = Y.shape[1]
    total = 0.0
    for n in range(m):
        y = Y[order[start + n]]
        if loss_code == SSE:
            c = wb[n]
        elif S == 0.0:
            c = 0.0
        elif loss_code == MSE:
            c = 2.0 * wb[n] / (S * K)
        else:  # bce or poisson (with a sigmoid or exp output: cross_entropy's softmax is not element-wise)
            c = wb[n] / (S * K)
        row = 0.0
        for k in range(K):
            q = np.uint64(out + n * K + k)  # unsigned: see train_epochs_small
            if loss_code == BCE:
                x = np.float64(zbuf[q])
                row += max(x, 0.0) - y[k] * x + np.log1p(np.exp(-abs(x)))
            elif loss_code == POISSON:
                yk = np.float64(y[k])
                t = np.float64(abuf[q]) - yk
                if yk > 0.0:
                    t += yk * (np.log(yk) - zbuf[q])
                row += t
            else:
                e = np.float64(abuf[q]) - y[k]
                row += e * e
            if (loss_code == BCE and code == SIGMOID) or (loss_code == POISSON and code == EXP):
                dbuf[q] = (abuf[q] - y[k]) * c
            else:
                dbuf[q] = (abuf[q] - y[k]) * c * derivative_scalar(code, zbuf[q], abuf[q])
        total += wb[n] * row
    if loss_code == SSE:
        return 0.5 * total
    if S == 0.0:
        return 0.0
    return total / (S * K)


@kernel
def train_epochs_small(net, opt, run, first, count):
    """kernels.train_epochs for tiny networks: the same loops, on flat offsets instead of views.

    Layer l's W[i, j] is params[w + i * J + j] and b[j] is params[w + I * J + j]
    (w = the layer's offset); row n of its z, a and delta is at c * u + n * J
    (c = batch capacity, u = units in the layers before it), as in kernels.py.
    The batch's rows of X are gathered into run.Xb (once per fit at full batch,
    whose rows never move), so layer 0 reads its input like the others.

    The arrays are taken out of net, opt and run once per call: handing a
    function the run's forty arrays costs an atomic increment and decrement of
    each one's reference count, which was most of a tiny epoch (1 us of 1.5).
    So the optimizer's update calls the plain U1-U3 kernels on its arrays, as
    kernels.update does, and end_of_epoch's common case (finite, no early
    stopping: keep these parameters and optimizer state as the last finite
    ones) is done here; every other case calls end_of_epoch.

    The innermost loops index with unsigned integers: Numba tests every signed
    index for a negative value (counting from the end), which cost these short
    loops a quarter of their time; these indices are never negative. The
    arithmetic is the plain kernels', in their order, without fastmath: the
    same numbers, bit for bit (tests/test_fast.py; bench/cfloor.c agrees too).
    """
    X, Y, order, Xb = run.X, run.Y, run.order, run.Xb
    params, grads, sizes, acts, loss_code = net.params, net.grads, net.sizes, net.acts, net.loss_code
    zbuf, abuf, dbuf = run.zbuf, run.abuf, run.dbuf
    lrs, wb, sw, losses = run.lrs, run.wb, run.sw, run.losses
    kind, step, decay, m1, m2 = opt.kind, opt.step, opt.decay, opt.m, opt.v
    last_params, last_m, last_v, last_step = run.last_params, run.last_m, run.last_v, run.last_step
    N, n0 = X.shape
    nL = Y.shape[1]
    Nv = run.Xv.shape[0]
    L = sizes.shape[0] - 1
    B = min(run.batch_size, N)
    units = 0
    for l in range(1, L + 1):
        units += sizes[l]
    cap = zbuf.shape[0] // units
    total_weight = 0.0
    batch_weight = 0.0
    for n in range(N):
        total_weight += sw[n]
    reshuffle = run.shuffle and B < N
    unmonitored = run.monitor == _plain.NO_MONITOR
    l2, record = run.l2, run.batch_losses.shape[0] > 0
    zero = grads.dtype.type(0)  # float32 gradients are summed in float32, as weight_grad sums them
    for e in range(first, first + count):
        if reshuffle:
            shuffle(order, run.rng_state)
        total = 0.0
        for start in range(0, N, B):
            m = min(B, N - start)
            if e == first or B < N:  # the batch's rows and weights; a full batch keeps its own
                batch_weight = 0.0
                for n in range(m):
                    r = order[start + n]
                    for i in range(n0):
                        Xb[n * n0 + i] = X[r, i]
                    wb[n] = sw[r]
                    batch_weight += wb[n]
            # forward: F1 then F2, layer by layer
            w = 0
            u = 0
            for l in range(L):
                I = sizes[l]
                J = sizes[l + 1]
                out = cap * u
                src = Xb if l == 0 else abuf
                prev = 0 if l == 0 else cap * (u - I)
                for n in range(m):
                    for j in range(J):
                        s = params[w + I * J + j]
                        for i in range(I):
                            s += src[np.uint64(prev + n * I + i)] * params[np.uint64(w + i * J + j)]
                        zbuf[out + n * J + j] = s
                if acts[l] == SOFTMAX:
                    _plain.activate(SOFTMAX, zbuf[out : out + m * J].reshape((m, J)),
                                    abuf[out : out + m * J].reshape((m, J)))  # fmt: skip
                else:
                    code = acts[l]
                    for q in range(out, out + m * J):
                        abuf[q] = activate_scalar(code, zbuf[q])
                w += I * J + J
                u += J
            # the loss and B1 at the output
            out = cap * (u - nL)
            if acts[L - 1] == SOFTMAX:  # row-coupled: the plain kernels, on views
                wm = wb[:m]
                z = zbuf[out : out + m * nL].reshape((m, nL))
                a = abuf[out : out + m * nL].reshape((m, nL))
                Ym = run.Yb[: m * nL].reshape((m, nL))
                gather_rows(Y, order, start, Ym)
                batch_loss = loss_value(loss_code, z, a, Ym, wm)
                output_delta(loss_code, SOFTMAX, z, a, Ym, wm, dbuf[out : out + m * nL].reshape((m, nL)))
            else:
                batch_loss = output_step_small(loss_code, acts[L - 1], zbuf, abuf, dbuf, out, m, Y, wb,
                                               batch_weight, order, start)  # fmt: skip
            total += batch_loss if loss_code == SSE else batch_loss * (batch_weight / total_weight)
            # backward: B3, B4, then B2 into the layer below
            for l in range(L - 1, -1, -1):
                I = sizes[l]
                J = sizes[l + 1]
                u -= J
                w -= I * J + J
                out = cap * u
                src = Xb if l == 0 else abuf
                prev = 0 if l == 0 else cap * (u - I)
                # each sum in a register of the parameters' dtype, over the rows in order: weight_grad's
                # and bias_grad's sums term for term, without a store and reload of dW[i, j] per row
                for i in range(I):
                    for j in range(J):
                        s = zero
                        for n in range(m):
                            s += src[np.uint64(prev + n * I + i)] * dbuf[np.uint64(out + n * J + j)]
                        grads[w + i * J + j] = s
                for j in range(J):
                    s = zero
                    for n in range(m):
                        s += dbuf[np.uint64(out + n * J + j)]
                    grads[w + I * J + j] = s
                if l > 0:
                    for n in range(m):
                        for i in range(I):
                            s = 0.0
                            for j in range(J):
                                s += dbuf[np.uint64(out + n * J + j)] * params[np.uint64(w + i * J + j)]
                            q = prev + n * I + i
                            dbuf[q] = s * derivative_scalar(acts[l - 1], zbuf[q], abuf[q])
            if l2 > 0.0 or record:
                penalty = _plain.batch_penalty(net, run, start // B, batch_loss, batch_weight)
                total += penalty if loss_code == SSE else penalty * (batch_weight / total_weight)
            # kernels.update, on the optimizer's arrays
            step[0] += 1
            if kind == PLAIN_SGD:
                _plain.sgd_update(params, grads, lrs[e])
            elif kind == SGD:
                _plain.momentum_update(params, grads, decay, m1, lrs[e], opt.momentum, opt.dampening,
                                       opt.nesterov, step[0] == 1)  # fmt: skip
            else:
                _plain.adam_update(params, grads, decay, m1, m2, step[0], lrs[e], opt.beta1, opt.beta2,
                                   _plain.adam_eps(opt, step[0]), kind == ADAMW)  # fmt: skip
        losses[e] = total
        if Nv > 0:  # the plain loops: compiling the blocked ones would cost a tiny fit 30 s
            run.val_losses[e] = _plain.validation_loss(net, run)
        if (unmonitored and np.isfinite(total) and (Nv == 0 or np.isfinite(run.val_losses[e]))
                and _plain.all_finite(params)):  # fmt: skip
            # end_of_epoch's outcome in this case, without handing it the run (it skips m and v for
            # plain SGD, which never changes them: copying them anyway is the same, for 2 P moves)
            _plain.copy_into(last_params, params)
            _plain.copy_into(last_m, m1)
            _plain.copy_into(last_v, m2)
            last_step[0] = step[0]
            continue
        status = end_of_epoch(net, opt, run, e)
        if status != RUNNING:
            return e - first + 1, status
    return count, RUNNING


# --- the plain kernels' signatures, for loopnet.Network ----------------------


def _threaded() -> bool:
    return numba.get_num_threads() > 1


def threaded_arg(sizes, *rows: int) -> bool | None:
    """The ``threaded`` argument of a whole-network kernel whose products have at most ``rows`` rows.

    True when Numba has more than one thread and some product of ``rows`` x I x J (each layer's I x J)
    reaches PARALLEL_MIN_WORK, as use_threads decides in compiled code; None otherwise: the build
    without the threaded drivers, which gives the same numbers (use_threads would say no everywhere)
    and compiles in about half the time.
    """
    work = max(int(i) * int(j) for i, j in itertools.pairwise(sizes))
    return True if _threaded() and max(rows) * work >= PARALLEL_MIN_WORK else None


def is_small(sizes, rows: int) -> bool:
    """Whether a batch of ``rows`` through ``sizes`` takes the tiny-network path (see SMALL_MAX_WORK).

    forward, gradients and fit all decide by this, so a full-batch fit's loss
    history and ``Network.loss`` come from the same loops, bit for bit.
    """
    return rows * sum(int(i) * int(j) for i, j in itertools.pairwise(sizes)) <= SMALL_MAX_WORK


PATHS = ("auto", "small", "blocked")
"""Which loops a whole-network call runs: chosen by :func:`is_small`, or forced (tests, benchmarks)."""


def _small(path: str, sizes, rows: int) -> bool:
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; expected one of {', '.join(PATHS)}")
    return path == "small" or (path == "auto" and is_small(sizes, rows))


def forward_pass(params, sizes, acts, X, zbuf, abuf, path="auto"):
    """kernels.forward_pass's signature, run by the fast kernels (the plain ones for tiny networks)."""
    if _small(path, sizes, X.shape[0]):
        _plain.forward_pass(params, sizes, acts, X, zbuf, abuf)
        return
    paramsT = np.empty_like(params)
    refresh_transposes(params, paramsT, sizes)
    forward_pass_fast(params, paramsT, sizes, acts, X, zbuf, abuf, zbuf[:0], threaded_arg(sizes, X.shape[0]))


def backward_pass(params, grads, sizes, acts, loss_code, X, Y, sw, zbuf, abuf, dbuf, path="auto"):
    """kernels.backward_pass's signature, run by the fast kernels (after forward_pass)."""
    if _small(path, sizes, X.shape[0]):
        _plain.backward_pass(params, grads, sizes, acts, loss_code, X, Y, sw, zbuf, abuf, dbuf)
        return
    paramsT = np.empty_like(params)
    refresh_transposes(params, paramsT, sizes)
    aTbuf = np.empty_like(zbuf)
    N = X.shape[0]
    for l in range(sizes.shape[0] - 2):  # the hidden layers' a.T, which forward_pass did not keep
        transpose(_plain.work_view(abuf, sizes, l, N), transposed_view(aTbuf, sizes, l, N))
    XT = np.ascontiguousarray(X.T)
    backward_pass_fast(params, paramsT, grads, sizes, acts, loss_code, XT, Y, sw, zbuf, abuf, aTbuf, dbuf,
                       np.empty_like(dbuf), threaded_arg(sizes, N))  # fmt: skip


def train_epochs(net, opt, run, first, count, path="auto"):
    """kernels.train_epochs's signature, run by the fast kernels: a chunk of epochs in one compiled call.

    ``run`` must carry the transposed buffers (``run.paramsT`` like params,
    ``XbT`` like Xb, ``aTbuf`` and ``dTbuf`` like zbuf): loopnet.training makes them.
    """
    kernel, variant = train_kernel(net.sizes, run, path)
    return kernel(net, opt, run, first, count, *variant)


def train_kernel(sizes, run, path="auto"):
    """The compiled function train_epochs runs for a fit, and its arguments after ``count``.

    train_epochs_small for tiny networks; else train_epochs_fast with its ``threaded`` and ``validate``
    (see its docstring), from the work it hands use_threads: each batch's products (B x I x J), the
    update (8 x I x J), the validation rows' forward pass (Nv x I x J) and the batch gather (8 x B x n0).
    """
    B = min(run.batch_size, run.X.shape[0])
    if _small(path, sizes, B):
        return train_epochs_small, ()
    Nv = run.Xv.shape[0]
    gather = _threaded() and 8 * B * int(sizes[0]) >= PARALLEL_MIN_WORK  # the batch gather alone can thread
    threaded = True if gather else threaded_arg(sizes, B, 8, Nv)
    return train_epochs_fast, (threaded, True if Nv > 0 else None)


# --- one layer, with the plain kernels' signatures (the registry's fast forms) --
#
# These make the transposed copies the fused kernels expect, so the tests and
# benchmarks can hold each fast kernel against its plain kernel argument for
# argument. Training does not go through them.

_NO_COPY = np.empty((0, 0))


def dense_forward(a_prev, W, b, z):
    """kernels.dense_forward, by dense_forward_fast (identity activation, so only z is kept)."""
    WT = np.ascontiguousarray(W.T)
    dense_forward_fast(a_prev, W, WT, b, IDENTITY, z, np.empty_like(z), _NO_COPY.astype(z.dtype))


def activate(code, z, a):
    """kernels.activate, by the fused epilogue bias_activate_row with a zero bias (z is not changed)."""
    z = z.copy()
    b = np.zeros(z.shape[1], dtype=z.dtype)
    for n in range(z.shape[0]):
        bias_activate_row(code, b, z[n], a[n])


def backprop_delta(delta, W, code, z_prev, a_prev, delta_prev):
    """kernels.backprop_delta, by backprop_delta_fast."""
    delta_prevT = np.empty(delta_prev.shape[::-1], dtype=delta_prev.dtype)
    backprop_delta_fast(delta, W, np.ascontiguousarray(W.T), code, z_prev, a_prev, delta_prev, delta_prevT)


def weight_grad(a_prev, delta, dW):
    """kernels.weight_grad, by weight_grad_fast on the transposed copies."""
    weight_grad_fast(np.ascontiguousarray(a_prev.T), np.ascontiguousarray(delta.T), delta, dW)


def bias_grad(delta, db):
    """kernels.bias_grad, by bias_grad_fast on delta.T."""
    bias_grad_fast(np.ascontiguousarray(delta.T), db)


def sgd_update(params, grads, lr):
    """kernels.sgd_update, by sgd_update_layer (what training runs) on the parameters as one (1, P) row."""
    W = params.reshape((1, -1))
    sgd_update_layer(W, grads.reshape((1, -1)), np.empty(W.shape[::-1], dtype=W.dtype), params.dtype.type(lr))


def momentum_update(params, grads, decay, velocity, lr, momentum, dampening, nesterov, first):
    """kernels.momentum_update, by momentum_flat (what training runs)."""
    c = (lr, momentum, dampening, float(nesterov), float(first), 0.0, 0.0)
    update_flat(SGD, params, grads, decay, velocity, velocity, c, 0, params.shape[0])


def adam_update(params, grads, decay, m, v, t, lr, beta1, beta2, eps, decoupled):
    """kernels.adam_update, by adam_flat (what training runs)."""
    c = (lr, lr / (1.0 - beta1**t), math.sqrt(1.0 - beta2**t), beta1, beta2, eps, float(decoupled))
    update_flat(ADAMW, params, grads, decay, m, v, c, 0, params.shape[0])
