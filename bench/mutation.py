"""Mutation score of loopnet's tests: plant realistic slips in loopnet/, one at a time, and count the caught.

Each mutant of :data:`CATALOG` replaces one snippet of one file under loopnet/ with the slip a careful
reviewer would plant: a guard dropped, an off-by-one in a leftover loop, a scale that equals the right one
only when K = 1, a threaded driver that differs from its serial twin. The snippet must occur exactly once
in the file; a mutant whose snippet is missing or ambiguous is refused with a message saying which and
why (a mutant may also list ``variants``: the same slip written for another revision of the code, so the
catalog runs on old and new code alike). For each mutant the runner:

1. copies loopnet/, tests/, README.md and .ci/ (which tests/test_readme.py reads) into a fresh temp
   dir: from the working tree, or from the git revision ``--source REV``; ``--tests DIR`` takes the tests
   from DIR instead (e.g. an older commit's, extracted with ``git archive``);
2. applies the mutation to the copy;
3. checks that a Python started with the run's environment imports the copy, not the installed package
   (``python -c "import loopnet; print(loopnet.__file__)"``), and, from inside the pytest run, records
   which loopnet the tests imported (a ``-p`` plugin written next to the copy, not a conftest);
4. runs ``nice python -m pytest <tests> -x -q -p no:cacheprovider`` with the copy first on PYTHONPATH
   and a fresh, empty NUMBA_CACHE_DIR (so nothing compiled for another mutant is reused), with Ctrl-C at
   its default disposition (a run started in the background would pass it on ignored), under a
   per-mutant timeout; a timeout counts as killed and is reported as such.

The mutant is *killed* when pytest fails (the first failing test is taken from its summary), *survived*
when every selected test passes. The score is killed / non-equivalent: mutants labelled
``equivalent=True`` change no number any test could observe (e.g. a threshold that only moves work
between the serial and threaded drivers, which agree bit for bit) and are left out of the denominator.
Before the mutants, the unmutated copy runs the same tests once (the baseline): a failing baseline would
make every mutant look killed, so the run stops there (``--no-baseline`` skips it).

Default test selection, decided by timing a cold run (fresh Numba cache, two shared cores, other jobs
running): the whole suite took 417 s, of which compiling is most; a mutant that survives pays all of it,
so the run leaves out what costs much and checks no numbers, and what repeats a check at a looser
tolerance (``--all-tests`` runs everything):

* the modules :data:`SLOW_MODULES`: test_cache.py (126 s: two fresh-cache processes, checks what was
  compiled), test_source_cache.py (the same, after edits), test_memory.py (38 s: peak RSS of long fits),
  test_bench.py (the benchmark command and its report);
* the single tests :data:`SLOW_TESTS`: test_network.py's allocation count (25-80 s in a subprocess);
* every parametrization whose id has a ``float32`` part (58 tests at 3285ec5): each repeats a float64
  case at 1e-4 instead of 1e-12 and costs a second compile of every fast kernel; tests with float32 in
  their name (the dtype checks) still run.

With that selection a surviving mutant took 75-150 s (230 s with the float32 cases, under heavier load),
a mutant killed in test_kernels.py 3-60 s, and the whole catalog against 3285ec5's tests 45 minutes
plus a 143 s baseline. After the training rewrite (0700fb7 with fast.py's update as 95ae764 has it; two
shared cores, another suite running) the baseline took 451 s, a surviving mutant 280-380 s, a mutant
killed in test_kernels.py 5-75 s, and the 40 mutants of the training code (the 14 it re-targeted and
the 26 written for it) 59 minutes. The modules run in the order of :data:`MODULE_ORDER` (the numeric ones
that kill quickly first), modules not named there after them, alphabetically; the first failing test
reported therefore depends on that order.

    python bench/mutation.py --list                           # the catalog, snippets checked
    python bench/mutation.py --json /tmp/mutation.json        # working tree: loopnet/ and tests/
    python bench/mutation.py --source REV --json OUT.json     # a commit's loopnet/ and tests/
    python bench/mutation.py --only par-b2-drops-fprime tiny-mse-scale-per-m

Not part of CI.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SLOW_MODULES = ("test_cache.py", "test_source_cache.py", "test_memory.py", "test_bench.py")
"""Test modules left out by default: slow, and they check compilation, caching, memory or reports."""

SLOW_TESTS = ("test_network.py::test_no_allocation_inside_the_epoch_loop",)
"""Single tests deselected by default for the same reason (a subprocess counting allocations over 1000
epochs, recompiling everything: 25-80 s)."""

MODULE_ORDER = (
    "test_kernels.py",
    "test_losses.py",
    "test_model_files.py",
    "test_shuffle.py",
    "test_paths.py",
    "test_fast.py",
    "test_gradients.py",
    "test_network.py",
    "test_api.py",
    "test_threads.py",
    "test_demos.py",
    "test_readme.py",
)
"""Selected modules run in this order (the quick numeric ones first); modules not named here come last."""


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # path under loopnet/
    original: str  # must occur exactly once in the file
    replacement: str
    description: str
    equivalent: bool = False  # expected-equivalent: no test can observe the change
    variants: tuple[tuple[str, str], ...] = ()  # the same slip in other revisions of the code

    def forms(self) -> tuple[tuple[str, str], ...]:
        return ((self.original, self.replacement), *self.variants)


def _m(id, file, original, replacement, description, equivalent=False, variants=()):
    return Mutant(id, file, original, replacement, description, equivalent, variants)


CATALOG: tuple[Mutant, ...] = (
    # --- fast.py, serial loops -------------------------------------------------------------------
    _m("fast-b2-fprime-per-panel", "fast.py",
       "    if i_hi == delta_prev.shape[1]:\n"
       "        for n in range(r0, r0 + rows):\n"
       "            derivative_row(code, z_prev[n], a_prev[n], delta_prev[n])\n",
       "    for n in range(r0, r0 + rows):\n"
       "        derivative_row(code, z_prev[n], a_prev[n], delta_prev[n])\n",
       "backprop_delta_band applies f' after every panel, not once after the last (wrong past 64 units)"),
    _m("fast-f1-epilogue-per-panel", "fast.py",
       "    if j_hi == z.shape[1]:\n"
       "        for n in range(r0, r0 + rows):\n"
       "            bias_activate_row(code, b, z[n], a[n])\n",
       "    for n in range(r0, r0 + rows):\n"
       "        bias_activate_row(code, b, z[n], a[n])\n",
       "dense_forward_band adds the bias and activates after every panel (wrong past 64 units)"),
    _m("fast-rows4-last-column", "fast.py",
       "    for j in range(j_end, j_hi):\n"
       "        b = B[j]\n"
       "        c0 = c1 = c2 = c3 = zero\n",
       "    for j in range(j_end, j_hi - 1):\n"
       "        b = B[j]\n"
       "        c0 = c1 = c2 = c3 = zero\n",
       "abt_rows4's 4 x 1 leftover loop stops one column short"),
    _m("fast-band-last-row", "fast.py",
       "        for r in range(r0, r0 + rows):\n",
       "        for r in range(r0, r0 + rows - 1):\n",
       "abt_band's leftover rows (a band of 1-3 rows) miss their last row"),
    _m("fast-rows4-jend-from-zero", "fast.py",
       "    a3 = A[r0 + 3]\n"
       "    K = A.shape[1]\n"
       "    j_end = j_hi - (j_hi - j_lo) % 4\n",
       "    a3 = A[r0 + 3]\n"
       "    K = A.shape[1]\n"
       "    j_end = j_hi - j_hi % 4\n",
       "abt_rows4's block end ignores j_lo (panels start at multiples of 64, so the same columns)",
       equivalent=True),
    _m("fast-b3-panel-bound", "fast.py",
       "        for band in range((a_prevT.shape[0] + 3) // 4):\n"
       "            product_band(a_prevT, deltaT, delta, dW, band, j_lo, min(J, j_lo + panel))\n",
       "        for band in range((a_prevT.shape[0] + 3) // 4):\n"
       "            product_band(a_prevT, deltaT, delta, dW, band, j_lo, min(J, j_lo + panel - 1))\n",
       "weight_grad_fast's panel ends one column early: dW's column 63 is never written (J >= 64, N >= 16)"),
    _m("fast-b4-counts-first-row-twice", "fast.py",
       "        s = db.dtype.type(0)\n",
       "        s = row[0]\n",
       "bias_grad_fast starts its sum at the first term and then adds every term, the first again"),
    _m("fast-transpose-drops-tail", "fast.py",
       "    for block in range((src.shape[0] + 7) // 8):\n",
       "    for block in range(src.shape[0] // 8):\n",
       "the serial transpose skips the last block when the rows are not a multiple of 8"),
    _m("fast-gather-ignores-start", "fast.py",
       "        src = X[order[start + r0 + k]]\n",
       "        src = X[order[r0 + k]]\n",
       "gather_transpose_rows8 gathers every minibatch's X from the first batch's rows (Y stays right)"),
    _m("fast-exp-8-factorial-typo", "fast.py",
       "    p = p * r + 1.0 / 40320.0\n"
       "    p = p * r + 1.0 / 5040.0\n",
       "    p = p * r + 1.0 / 40230.0\n"
       "    p = p * r + 1.0 / 5040.0\n",
       "exp_approx's 1/8! typed as 1/40230 (digits swapped): ~1e-11 relative error"),
    _m("fast-tanh-11-factorial-typo", "fast.py",
       "    p = p * r + 1.0 / 39916800.0  # 1/11!\n",
       "    p = p * r + 1.0 / 3991680.0  # 1/11!\n",
       "tanh_small's 1/11! with a zero dropped: wrong near |x| = 0.5"),
    _m("fast-leaky-slope-in-derivative", "fast.py",
       "        slope = d.dtype.type(LEAKY_SLOPE)\n",
       "        slope = d.dtype.type(0.1)\n",
       "derivative_row's leaky_relu slope written as 0.1 in that one place"),
    _m("fast-softmax-min-shift", "fast.py",
       "            m = max(m, z[j])\n",
       "            m = min(m, z[j])\n",
       "the fused softmax subtracts the row minimum: exact until a spread > 709 overflows exp"),
    _m("fast-step-float32", "fast.py",
       "    step = params.dtype.type(lr)\n",
       "    step = np.float32(lr)\n",
       "the fast U1 (sgd_update_all, update_all since 95ae764; update_rows8 in da8221a..0700fb7) rounds the "
       "learning rate to float32 for float64 networks too",
       variants=(("sgd_update_rows8(W, dW, WT, W.dtype.type(c[0]), block)",
                  "sgd_update_rows8(W, dW, WT, np.float32(c[0]), block)"),)),
    # --- fast.py, threaded drivers ---------------------------------------------------------------
    _m("par-b2-drops-fprime", "fast.py",
       "        for band in prange((delta.shape[0] + 3) // 4):\n"
       "            backprop_delta_band(\n"
       "                delta, W, WT, code, z_prev,",
       "        for band in prange((delta.shape[0] + 3) // 4):\n"
       "            backprop_delta_band(\n"
       "                delta, W, WT, IDENTITY, z_prev,",
       "backprop_delta_par passes IDENTITY to the bands: the threaded B2 drops f'"),
    _m("par-update-double-step", "fast.py",
       "    for block in prange((W.shape[0] + 7) // 8):\n"
       "        sgd_update_rows8(W, dW, WT, step, block)\n",
       "    for block in prange((W.shape[0] + 7) // 8):\n"
       "        sgd_update_rows8(W, dW, WT, step + step, block)\n",
       "sgd_update_layer_par steps twice as far as the serial update (update_layer_par in "
       "da8221a..0700fb7: lr doubled, for U1 and U2; Adam's step is c[1], so only AdamW's decay doubles)",
       variants=(("    for block in prange((W.shape[0] + 7) // 8):\n"
                  "        update_rows8(kind, W, dW, D, M, V, WT, c, block)\n",
                  "    for block in prange((W.shape[0] + 7) // 8):\n"
                  "        update_rows8(kind, W, dW, D, M, V, WT,"
                  " (c[0] + c[0], c[1], c[2], c[3], c[4], c[5], c[6]), block)\n"),)),
    _m("par-b3-drops-last-band", "fast.py",
       "        for band in prange((a_prevT.shape[0] + 3) // 4):\n",
       "        for band in prange(a_prevT.shape[0] // 4):\n",
       "weight_grad_par forgets the partial band: dW's last I % 4 rows are not written when threaded"),
    _m("par-transpose-drops-tail", "fast.py",
       "    for block in prange((src.shape[0] + 7) // 8):\n",
       "    for block in prange(src.shape[0] // 8):\n",
       "transpose_par skips the last block: a.T and delta.T stale when threaded rows % 8 != 0"),
    _m("par-threshold-strict", "fast.py",
       "    return threaded and N * I * J >= PARALLEL_MIN_WORK\n",
       "    return threaded and N * I * J > PARALLEL_MIN_WORK\n",
       "use_threads with > instead of >=: only moves an exactly-2^19 product to the serial driver",
       equivalent=True),
    # --- fast.py, the tiny path --------------------------------------------------------------------
    _m("tiny-mse-scale-per-m", "fast.py",
       "    c = 1.0 if loss_code == SSE else 2.0 / (m * K)\n",
       "    c = 1.0 if loss_code == SSE else 2.0 / m\n",
       "output_step_small's mse delta scaled by 2/m instead of 2/(m K) (right for one output); weighted "
       "since da8221a: 2 w_n / S instead of 2 w_n / (S K)",
       variants=(("            c = 2.0 * wb[n] / (S * K)\n", "            c = 2.0 * wb[n] / S\n"),)),
    _m("tiny-bce-scale-per-m", "fast.py",
       "        scale = 1.0 / (m * K)\n",
       "        scale = 1.0 / m\n",
       "output_step_small's bce delta scaled by 1/m instead of 1/(m K) (right for one output); weighted "
       "since da8221a: w_n / S instead of w_n / (S K)",
       variants=(("        else:  # bce (with a sigmoid output: the other pair is softmax)\n"
                  "            c = wb[n] / (S * K)\n",
                  "        else:  # bce (with a sigmoid output: the other pair is softmax)\n"
                  "            c = wb[n] / S\n"),
                 ("element-wise)\n            c = wb[n] / (S * K)\n",
                  "element-wise)\n            c = wb[n] / S\n"))),
    _m("tiny-softmax-sse-takes-ce-delta", "fast.py",
       "output_delta(loss_code, SOFTMAX, z, a, Ym, dbuf[out : out + m * nL].reshape((m, nL)))",
       "output_delta(_plain.CROSS_ENTROPY, SOFTMAX, z, a, Ym, dbuf[out : out + m * nL].reshape((m, nL)))",
       "train_sgd_small's (train_epochs_small's) softmax branch takes the cross-entropy delta whatever the "
       "loss (sse, mse)",
       variants=(("output_delta(loss_code, SOFTMAX, z, a, Ym, wm, dbuf[out : out + m * nL].reshape((m, nL)))",
                  "output_delta(_plain.CROSS_ENTROPY, SOFTMAX, z, a, Ym, wm, "
                  "dbuf[out : out + m * nL].reshape((m, nL)))"),)),
    _m("tiny-epoch-weight-nominal-batch", "fast.py",
       "                )\n"
       "            total += batch_loss if summed else batch_loss * (m / N)\n",
       "                )\n"
       "            total += batch_loss if summed else batch_loss * (B / N)\n",
       "train_sgd_small (train_epochs_small) weights each batch's mean loss by B/N, the nominal batch's "
       "share, not m/N (since da8221a: its weight's share): wrong for a short last batch",
       variants=(("total += batch_loss if loss_code == SSE else batch_loss * (batch_weight / total_weight)",
                  "total += batch_loss if loss_code == SSE else batch_loss * (B / N)"),)),
    _m("tiny-b2-own-activation", "fast.py",
       "dbuf[q] = s * derivative_scalar(acts[l - 1], zbuf[q], abuf[q])",
       "dbuf[q] = s * derivative_scalar(acts[l], zbuf[q], abuf[q])",
       "train_sgd_small's B2 takes the derivative of the layer's own activation, not the one below"),
    _m("tiny-b3-unshuffled-x", "fast.py",
       "                        x = X[order[start + n], i] if l == 0 else abuf[prev + n * I + i]\n"
       "                        for j in range(J):\n",
       "                        x = X[n, i] if l == 0 else abuf[prev + n * I + i]\n"
       "                        for j in range(J):\n",
       "train_sgd_small's B3 reads X's rows in file order, not the batch's shuffled rows",
       variants=(("                    r = order[start + n]\n                    for i in range(n0):\n",
                  "                    r = start + n\n                    for i in range(n0):\n"),)),
    # --- kernels.py, the plain loops ----------------------------------------------------------------
    _m("plain-ce-delta-drops-rowsum", "kernels.py",
       "                delta[n, k] = (a[n, k] * s - Y[n, k]) * scale\n",
       "                delta[n, k] = (a[n, k] - Y[n, k]) * scale\n",
       "softmax + cross_entropy delta as (a - y)/N (weighted: (a - y) c_n): right for rows summing to 1; "
       "equivalent since the Network refuses cross_entropy rows that are not probability rows",
       equivalent=True,
       variants=(("                delta[n, k] = (a[n, k] * s - Y[n, k]) * c\n",
                  "                delta[n, k] = (a[n, k] - Y[n, k]) * c\n"),)),
    _m("plain-shuffle-sattolo", "kernels.py",
       "        j = x % (i + 1)\n",
       "        j = x % i\n",
       "shuffle draws j < i (Sattolo's cycle): no row ever stays in place"),
    _m("plain-bce-scale-per-n", "kernels.py",
       "        scale = 1.0 / (N * K)\n",
       "        scale = 1.0 / N\n",
       "sigmoid + bce delta scaled by 1/N instead of 1/(N K) (right for one output); weighted since da8221a: "
       "w_n / S instead of w_n / (S K)",
       variants=(("            c = sw[n] / (S * K)\n", "            c = sw[n] / S\n"),)),
    _m("plain-update-skips-last", "kernels.py",
       "    for p in range(params.shape[0]):\n",
       "    for p in range(params.shape[0] - 1):\n",
       "the plain U1 never updates the last parameter (the output layer's last bias)",
       variants=(("    for p in range(params.shape[0]):\n"  # U2 and U3 loop the same way since da8221a
                  "        params[p] -= lr * grads[p]\n",
                  "    for p in range(params.shape[0] - 1):\n"
                  "        params[p] -= lr * grads[p]\n"),)),
    _m("plain-epoch-weight-nominal-batch", "kernels.py",
       "total += batch_loss if summed else batch_loss * (m / N)",
       "total += batch_loss if summed else batch_loss * (B / N)",
       "train_sgd (train_epochs) weights each batch's mean loss by B/N, the nominal batch's share, not m/N "
       "(since da8221a: its weight's share): wrong for a short last batch",
       variants=(("total += batch_loss if net.loss_code == SSE else "
                  "batch_loss * (batch_weight / total_weight)",
                  "total += batch_loss if net.loss_code == SSE else batch_loss * (B / N)"),)),
    _m("plain-softmax-max-skips-last", "kernels.py",
       "            for j in range(1, J):\n"
       "                if z[n, j] > m:\n",
       "            for j in range(1, J - 1):\n"
       "                if z[n, j] > m:\n",
       "softmax's row maximum skips the last column: exp overflows when that column is the largest"),
    _m("plain-mse-loss-per-n", "kernels.py",
       "    return total / (N * K)  # mse\n",
       "    return total / N  # mse\n",
       "loss_value's mse averaged over samples only (right for one output); weighted since da8221a: "
       "total / S instead of total / (S K), for bce too",
       variants=(("    return total / (S * K)  # mse, bce: the mean over outputs too\n",
                  "    return total / S  # mse, bce: the mean over outputs too\n"),
                 ("    return total / (S * K)  # mse, bce, poisson: the mean over outputs too\n",
                  "    return total / S  # mse, bce, poisson: the mean over outputs too\n"))),
    _m("plain-b2-a-for-z", "kernels.py",
       "            delta_prev[n, i] = s * derivative_scalar(code, z_prev[n, i], a_prev[n, i])\n",
       "            delta_prev[n, i] = s * derivative_scalar(code, a_prev[n, i], a_prev[n, i])\n",
       "backprop_delta passes a for z: relu and leaky_relu test z > 0, and a > 0 exactly when z > 0",
       equivalent=True),
    _m("plain-gather-ignores-start", "kernels.py",
       "        s = order[start + r]\n",
       "        s = order[r]\n",
       "gather_rows copies the first batch's rows for every batch"),
    # --- activations.py ----------------------------------------------------------------------------
    _m("act-sigmoid-branch-flipped", "activations.py",
       "        if z >= 0:  # exp(-z) <= 1: cannot overflow\n",
       "        if z <= 0:  # exp(-z) <= 1: cannot overflow\n",
       "the scalar sigmoid takes each branch on the wrong side: NaN for z around +710 and beyond"),
    _m("act-relu-derivative-at-zero", "activations.py",
       "        return 1.0 if z > 0 else 0.0\n",
       "        return 1.0 if z >= 0 else 0.0\n",
       "relu'(0) = 1 in the scalar form (0 in the vector form, the fast loops and PyTorch)"),
    _m("act-relu-swallows-nan", "activations.py",
       "        return z if z > 0 else 0.0 * z\n",
       "        return z if z > 0 else 0.0\n",
       "the scalar relu returns 0 for NaN: a diverged plain network no longer shows NaN"),
    # --- kernels_np.py, the NumPy twin ------------------------------------------------------------
    _m("twin-ce-delta-drops-rowsum", "kernels_np.py",
       "np.multiply(a * Y.sum(axis=1, keepdims=True) - Y, 1.0 / N, out=delta)",
       "np.multiply(a - Y, 1.0 / N, out=delta)",
       "the twin's softmax + cross_entropy delta as (a - y)/N (weighted: (a - y) c): right for rows summing "
       "to 1; equivalent since the Network refuses cross_entropy rows that are not probability rows",
       equivalent=True,
       variants=(("np.multiply(a * Y.sum(axis=1, keepdims=True) - Y, c, out=delta)",
                  "np.multiply(a - Y, c, out=delta)"),
                 ("np.multiply(a, np.add.reduce(Y, axis=1, keepdims=True), out=delta)",
                  "np.copyto(delta, a)"))),
    _m("twin-softmax-column-max", "kernels_np.py",
       "np.subtract(z, z.max(axis=1, keepdims=True), out=a)",
       "np.subtract(z, z.max(axis=0, keepdims=True), out=a)",
       "the twin's softmax subtracts each column's maximum, not each row's",
       variants=(("np.subtract(z, np.maximum.reduce(z, axis=1, keepdims=True), out=a)",
                  "np.subtract(z, np.maximum.reduce(z, axis=0, keepdims=True), out=a)"),)),
    _m("twin-mse-delta-drops-2", "kernels_np.py",
       "np.float64(1.0 if loss_code == SSE else 2.0 / (N * K))",
       "np.float64(1.0 if loss_code == SSE else 1.0 / (N * K))",
       "the twin's mse delta forgets the 2 of the square's derivative",
       variants=(("{MSE: 2.0, BCE: 1.0, CROSS_ENTROPY: K}", "{MSE: 1.0, BCE: 1.0, CROSS_ENTROPY: K}"),
                 ("{MSE: 2.0, BCE: 1.0, CROSS_ENTROPY: K, POISSON: 1.0}",
                  "{MSE: 1.0, BCE: 1.0, CROSS_ENTROPY: K, POISSON: 1.0}"))),
    _m("twin-b2-z-a-swapped", "kernels_np.py",
       "    delta_prev *= derivative_vec(code, z_prev, a_prev)\n",
       "    delta_prev *= derivative_vec(code, a_prev, z_prev)\n",
       "the twin's B2 passes (a, z) for (z, a): right for relu/leaky_relu, wrong for sigmoid/tanh"),
    _m("twin-mse-loss-per-n", "kernels_np.py",
       "    return 0.5 * sq if loss_code == SSE else sq / (N * K)\n",
       "    return 0.5 * sq if loss_code == SSE else sq / N\n",
       "the twin's mse loss averaged over samples only (right for one output); weighted since da8221a: "
       "total / S instead of total / (S K), for bce too",
       variants=(("    return total / S if loss_code == CROSS_ENTROPY else total / (S * K)\n",
                  "    return total / S if loss_code == CROSS_ENTROPY else total / S\n"),)),
    # --- network.py ---------------------------------------------------------------------------------
    _m("net-load-allow-pickle", "network.py",
       "    data = np.load(path, allow_pickle=False)\n",
       "    data = np.load(path, allow_pickle=True)\n",
       "load unpickles object arrays: a crafted file runs code",
       variants=(("        data = np.load(fh, allow_pickle=False)\n",  # load reads an open file since 88f4862
                  "        data = np.load(fh, allow_pickle=True)\n"),)),
    _m("net-load-version-off-by-one", "network.py",
       "    if version > FORMAT_VERSION:\n",
       "    if version > FORMAT_VERSION + 1:\n",
       "load accepts files one format version newer than it reads",
       variants=(("    if version != FORMAT_VERSION:\n",  # load refuses older versions too since e8f2aad
                  "    if version != FORMAT_VERSION and version != FORMAT_VERSION + 1:\n"),
                 ("    if version not in READABLE_VERSIONS:\n",  # format 2 reads 1 and 2 since 723513e
                  "    if version not in (*READABLE_VERSIONS, FORMAT_VERSION + 1):\n"))),
    _m("net-auto-init-forgets-leaky", "network.py",
       'scheme = "he" if self._acts[l] in (RELU, LEAKY_RELU) else "glorot"',
       'scheme = "he" if self._acts[l] == RELU else "glorot"',
       "init='auto' gives leaky_relu layers Glorot weights instead of He"),
    _m("net-bce-target-check-and", "network.py",
       "(Y.min() < 0 or Y.max() > 1)",
       "(Y.min() < 0 and Y.max() > 1)",
       "bce's target check only refuses Y with values both below 0 and above 1"),
    # --- the training code of da8221a: optimizers, sample weights, the epoch loop, training.py ----------
    _m("plain-adam-c2-t-minus-1", "kernels.py",
       "    root_c2 = np.sqrt(1.0 - beta2**t)\n",
       "    root_c2 = np.sqrt(1.0 - beta2 ** (t - 1))\n",
       "the plain U3's second bias correction counts from 0 (1 - beta2^(t-1)): 0 at the first step"),
    _m("twin-adam-drops-c2", "kernels_np.py",
       "    params -= step_size * (m / (np.sqrt(v) / root_c2 + eps))\n",
       "    params -= step_size * (m / (np.sqrt(v) + eps))\n",
       "the twin's U3 forgets the second bias correction: sqrt(v) for sqrt(v / (1 - beta2^t))",
       variants=(("    s /= root_c2\n", ""),)),
    _m("fast-adam-eps-inside-sqrt", "fast.py",
       "            w = w - step_size * (m / (np.sqrt(v) / root_c2 + eps))\n",
       "            w = w - step_size * (m / np.sqrt(v / (root_c2 * root_c2) + eps))\n",
       "the fast U3 (adam_rows8 in da8221a..0700fb7, adam_flat's Adam branch since 95ae764) puts eps "
       "inside the square root: sqrt(v_hat + eps), not torch's sqrt(v_hat) + eps",
       variants=(("            w[p] = w[p] - step_size * (mp / (np.sqrt(vp) / root_c2 + eps))\n",
                  "            w[p] = w[p] - step_size * (mp / np.sqrt(vp / (root_c2 * root_c2) + eps))"
                  "\n"),)),
    _m("twin-adamw-coupled", "kernels_np.py",
       "    if decoupled:\n"
       "        params *= 1.0 - lr * decay\n"
       "        g = grads\n",
       "    if decoupled:\n"
       "        g = grads + decay * params\n",
       "the twin's AdamW adds the weight decay to the gradient (Adam's L2) instead of decaying the weights"),
    _m("training-decay-on-biases", "training.py",
       "        decay = np.zeros(net.n_params, dtype=net.dtype)\n"
       "        for W, _ in net._views(decay):  # weight decay on weights, never on biases\n"
       "            W[...] = self.weight_decay\n",
       "        decay = np.full(net.n_params, self.weight_decay, dtype=net.dtype)\n",
       "Optimizer._tuple fills the decay array with weight_decay everywhere: the biases decay too "
       "(every backend, every optimizer with weight_decay > 0)"),
    _m("plain-momentum-first-dampened", "kernels.py",
       "            if first:\n"
       "                velocity[p] = g\n",
       "            if first:\n"
       "                velocity[p] = (1.0 - dampening) * g\n",
       "the plain U2's first velocity is (1 - dampening) g; torch starts the buffer at g undampened"),
    _m("plain-nesterov-velocity-for-g", "kernels.py",
       "                g = g + momentum * velocity[p]\n",
       "                g = velocity[p] + momentum * velocity[p]\n",
       "the plain U2's Nesterov step takes the velocity for the gradient: v + mu v, not g + mu v "
       "(equal at the first step only)"),
    _m("fast-momentum-dampening-as-is", "fast.py",
       "    lr, mu, damp = t(c[0]), t(c[1]), t(1.0 - c[2])\n",
       "    lr, mu, damp = t(c[0]), t(c[1]), t(c[2])\n",
       "momentum_rows8 scales the new gradient by the dampening itself, not 1 - dampening"),
    _m("fast-coefficients-no-count", "fast.py",
       "    opt.step[0] += 1\n"
       "    t = opt.step[0]\n",
       "    t = opt.step[0] + 1\n",
       "coefficients computes step t but never stores the count: every fast update is the first "
       "(U2's velocity restarts at g, U3's corrections stay at t = 1), optimizer.steps stays 0"),
    _m("fast-schedule-first-epoch-rate", "fast.py",
       "update_all(opt, net.params, run.paramsT, net.grads, sizes, run.lrs[e], threaded)",
       "update_all(opt, net.params, run.paramsT, net.grads, sizes, run.lrs[first], threaded)",
       "train_epochs_fast steps every epoch of a chunk at the chunk's first learning rate"),
    _m("twin-sse-delta-ignores-weights", "kernels_np.py",
       "    if loss_code == SSE:\n"
       "        c = sw\n",
       "    if loss_code == SSE:\n"
       "        c = np.ones_like(sw)\n",
       "the twin's B1 ignores the sample weights for sse (the loss still has them)"),
    _m("fast-epoch-loss-row-share", "fast.py",
       "total += batch_loss if net.loss_code == SSE else batch_loss * (batch_weight / total_weight)",
       "total += batch_loss if net.loss_code == SSE else batch_loss * (m / N)",
       "train_epochs_fast adds each batch's mean loss by its share of rows, m/N, not of the weight: "
       "the epoch's loss ignores the sample weights",
       variants=(("or m == N else batch_weight / total_weight\n", "or m == N else m / N\n"),)),
    _m("tiny-zero-weight-batch-nan", "fast.py",
       "        elif S == 0.0:\n"
       "            c = 0.0\n"
       "        elif loss_code == MSE:\n",
       "        elif loss_code == MSE:\n",
       "output_step_small divides by the batch's total weight unguarded: a batch of zero-weight rows "
       "gives 0/0 = NaN deltas (its loss is still guarded)"),
    _m("tiny-batch-weight-total", "fast.py",
       "                                               batch_weight, order, start)",
       "                                               total_weight, order, start)",
       "train_epochs_small passes output_step_small the whole set's weight for S, not the batch's: "
       "minibatch deltas and losses scaled by S_batch / S_total"),
    _m("twin-val-loss-before-updates", "kernels_np.py",
       "    forward_pass_np(net.params, net.sizes, net.acts, run.Xv, run.zv, run.av)\n",
       "    forward_pass_np(run.last_params, net.sizes, net.acts, run.Xv, run.zv, run.av)\n",
       "the twin's validation loss uses last_params, the parameters before the epoch's updates"),
    _m("plain-val-loss-training-weights", "kernels.py",
       "work_view_c(run.av, net.sizes, L - 1, Nv), run.Yv, run.swv)",
       "work_view_c(run.av, net.sizes, L - 1, Nv), run.Yv, run.sw)",
       "the plain validation loss weights the validation rows by the training rows' sample weights"),
    _m("stop-improvement-le", "kernels.py",
       "    if value < run.best[0] - run.min_delta:\n",
       "    if value <= run.best[0] - run.min_delta:\n",
       "early stopping counts an epoch that ties the best (less min_delta) as an improvement"),
    _m("stop-patience-off-by-one", "kernels.py",
       "    if run.waits[0] < run.patience:\n",
       "    if run.waits[0] <= run.patience:\n",
       "early stopping waits patience + 1 epochs without improvement"),
    _m("stop-restore-keeps-last", "kernels.py",
       "    if run.restore_best:\n"
       "        copy_into(net.params, run.best_params)\n"
       "    return EARLY_STOPPING\n",
       "    if run.restore_best:\n"
       "        copy_into(run.best_params, net.params)\n"
       "    return EARLY_STOPPING\n",
       "early stopping's restore copies the wrong way (best <- last): the network keeps the last epoch"),
    _m("stop-best-epoch-not-updated", "kernels.py",
       "        run.waits[0] = 0\n"
       "        run.waits[1] = e\n",
       "        run.waits[0] = 0\n",
       "end_of_epoch never records the best epoch: history.best_epoch is always 0 with early stopping"),
    _m("diverge-keeps-optimizer-state", "kernels.py",
       "        copy_into(net.params, run.last_params)\n"
       "        copy_into(opt.m, run.last_m)\n"
       "        copy_into(opt.v, run.last_v)\n"
       "        opt.step[0] = run.last_step[0]\n",
       "        copy_into(net.params, run.last_params)\n",
       "on divergence end_of_epoch puts back the parameters only: the optimizer keeps the diverged "
       "epoch's moments and step count"),
    _m("diverge-checks-loss-only", "kernels.py",
       "    if not (finite and all_finite(net.params)):\n",
       "    if not finite:\n",
       "the divergence check looks at the losses only: an update that overflows a parameter while the "
       "loss measured before it was finite is kept"),
    _m("fit-history-keeps-diverged-epoch", "training.py",
       "            done += kept\n",
       "            done += ran\n",
       "fit counts the diverged epoch as done: its NaN loss is in the history and DivergenceError.epoch "
       "is one too far"),
    _m("fit-chunks-grow-unbounded", "training.py",
       "    return int(max(1, min(10 * ran, ran * chunk_seconds / elapsed)))\n",
       "    return int(max(1, ran * chunk_seconds / elapsed))\n",
       "_next_chunk drops the tenfold bound: a fast first chunk (compiled, microseconds) makes the next "
       "one of ~10^4 epochs. No number changes (tested), but callbacks, progress and Ctrl-C wait that "
       "long and the chunk sizes are observable through the kernels' calls: not equivalent"),
    _m("fit-ctrl-c-not-restored-on-error", "training.py",
       "    signal.signal(signal.SIGINT, handler)\n"
       "    try:\n"
       "        yield pressed\n"
       "    finally:\n"
       "        signal.signal(signal.SIGINT, previous)\n",
       "    signal.signal(signal.SIGINT, handler)\n"
       "    yield pressed\n"
       "    signal.signal(signal.SIGINT, previous)\n",
       "the Ctrl-C handler is put back only when fit returns: after a DivergenceError or a callback's "
       "exception, Ctrl-C only sets a flag nobody reads"),
    _m("plain-adam-m-textbook-form", "kernels.py",
       "        m[p] += (1.0 - beta1) * (g - m[p])\n",
       "        m[p] = beta1 * m[p] + (1.0 - beta1) * g\n",
       "the plain U3's first moment in the textbook form beta1 m + (1 - beta1) g: the same number up to "
       "one rounding (torch computes the lerp form); every comparison of U3 across implementations "
       "allows 1e-10 or more, and the tiny path shares the plain update",
       equivalent=True),
    # --- the L2 penalty (R), scikit-learn's Adam (eps_hat) and the estimators ---------------------
    _m("l2-misses-last-layer", "kernels.py",
       "    total = 0.0\n    off = 0\n    for l in range(sizes.shape[0] - 1):\n",
       "    total = 0.0\n    off = 0\n    for l in range(sizes.shape[0] - 2):\n",
       "the L2 penalty's gradient and value skip the output layer's weights"),
    _m("l2-penalises-biases", "kernels.py",
       "        for p in range(off, off + I * J):\n            w = params[p]\n",
       "        for p in range(off, off + I * J + J):\n            w = params[p]\n",
       "the L2 penalty covers the biases too (scikit-learn's alpha is on the weights only)"),
    _m("l2-value-not-per-batch", "kernels.py",
       "        penalty = 0.5 * c * l2_penalty(net.params, net.grads, net.sizes, c)\n",
       "        penalty = 0.5 * run.l2 * l2_penalty(net.params, net.grads, net.sizes, c)\n",
       "the penalty's value is not divided by the batch's weight (its gradient is): the loss history is off"),
    _m("tiny-drops-l2", "fast.py",
       "            if l2 > 0.0 or record:\n",
       "            if record:\n",
       "the tiny path applies the L2 penalty only when batch losses are recorded"),
    _m("fast-l2-share-as-sse", "fast.py",
       "            total += penalty if net.loss_code == SSE else penalty * (batch_weight / total_weight)\n",
       "            total += penalty\n",
       "the blocked path adds each batch's whole penalty to a mean loss's epoch total",
       variants=(("batch_loss, batch_weight) * share\n", "batch_loss, batch_weight)\n"),)),
    _m("adam-eps-hat-ignored", "kernels.py",
       "        return opt.eps / np.sqrt(1.0 - opt.beta2**t)\n",
       "        return opt.eps\n",
       "eps_hat is ignored by the compiled Adam (torch's eps placement instead of scikit-learn's)"),
    _m("twin-eps-hat-inverted", "kernels_np.py",
       "opt.eps / math.sqrt(1.0 - opt.beta2**t) if opt.eps_hat else opt.eps",
       "opt.eps * math.sqrt(1.0 - opt.beta2**t) if opt.eps_hat else opt.eps",
       "the twin scales eps_hat's eps the wrong way"),
    _m("estimator-velocity-not-rescaled", "estimators.py",
       "                    state.m *= state.velocity_lr / state.learning_rate\n",
       "                    pass\n",
       "when the learning rate changes, the estimator keeps torch's velocity (not scikit-learn's)"),
    _m("estimator-adam-eps-unscaled", "estimators.py",
       "eps=self.epsilon / c, eps_hat=True)",
       "eps=self.epsilon, eps_hat=True)",
       "Adam's eps is not divided by the gradient scale c (wrong for multilabel and two-output regression)"),
    _m("estimator-fresh-permutation", "estimators.py",
       "                    sample_idx = sample_idx[_permutation(self._random_state, N)]\n",
       "                    sample_idx = _permutation(self._random_state, N)\n",
       "each epoch's order is a fresh permutation, not composed with the last as sklearn.utils.shuffle does"),
    _m("estimator-loss-by-weight", "estimators.py",
       "        counts[-1] = N - B * (len(counts) - 1)\n",
       "        counts[-1] = B\n",
       "the last, shorter batch counts as a full one in the reported loss"),
    # --- model files, plots and the demos' fidelity ---------------------------------------------------
    _m("file-checksum-unchecked", "network.py",
       '    if header["checksum"] != _checksum(params):\n',
       '    if header["checksum"] == "unchecked":\n',
       "load never compares the parameters with their checksum"),
    _m("file-checksum-big-endian", "network.py",
       'little = np.ascontiguousarray(params, dtype=params.dtype.newbyteorder("<"))',
       'little = np.ascontiguousarray(params, dtype=params.dtype.newbyteorder(">"))',
       "the checksum hashes big-endian bytes, not the documented little-endian ones"),
    _m("file-save-in-place", "network.py",
       '    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")\n'
       "    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)",
       "    tmp = path\n"
       "    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)",
       "save writes straight over the real file: a crash mid-save leaves half a file",
       variants=(("        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)",
                  "        tmp = path\n"
                  "        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)"),)),
    _m("file-metadata-dropped", "network.py",
       '    net.metadata = header.get("metadata", {})\n',
       "    net.metadata = {}\n",
       "load forgets the metadata (the CLI's scaling and label names)"),
    _m("plot-no-validation-curve", "plots.py",
       '    if "val_loss" in history:\n',
       '    if "val_loss" in history and False:\n',
       "History.plot leaves out the validation curve"),
    _m("demo-printed-at-25000", "demos.py",
       "PRINTED_EPOCHS = 55000\n",
       "PRINTED_EPOCHS = 25000\n",
       "the as-published demo claims the article's printed digits come from 25,000 epochs"),
    _m("explain-line-range-off-by-one", "explain.py",
       "    return path, start + skip, start + len(lines) - 1\n",
       "    return path, start + skip, start + len(lines)\n",
       "explain's kernel line ranges run one line past the kernel"),
    _m("explain-update-half-lr", "explain.py",
       "    kernels.sgd_update(new, grads, lr)\n",
       "    kernels.sgd_update(new, grads, lr / 2)\n",
       "explain's update step uses half the learning rate it prints"),
    # --- reliability: bad input, the edges, faults, and what the property search found ---------------
    _m("edges-forward-trusts-saturation", "network.py",
       "        if not (all_finite(zbuf) and all_finite(out)):\n",
       "        if not all_finite(out):\n",
       "forward returns sigmoid(inf) = 1 from an overflowed pre-activation instead of raising"),
    _m("bad-input-ce-rows-unchecked", "network.py",
       "            _check_probability_rows(Y, names[1])\n",
       "            pass\n",
       "cross_entropy takes target rows that are not probability rows (zeros, two ones, scores)"),
    _m("file-crc-not-read-to-the-end", "network.py",
       "                    while entry.read(1 << 20):\n",
       "                    while False:\n",
       "load trusts NumPy to read each entry to its end, where zip checks the CRC-32"),
    _m("file-json-nan-accepted", "network.py",
       "        header = json.loads(str(raw_header), parse_constant=no_constant)\n",
       "        header = json.loads(str(raw_header))\n",
       "load takes NaN and Infinity in a header, which save never writes"),
    _m("cli-sigterm-unhandled", "commands.py",
       "    signal.signal(signal.SIGTERM, sigterm.handle)\n",
       "    pass\n",
       "SIGTERM kills loopnet train outright: no model of the last epoch, exit -15"),
    _m("fast-full-batch-share-by-ratio", "fast.py",
       "            share = 1.0 if net.loss_code == SSE or m == N else batch_weight / total_weight\n"
       "            total += batch_loss * share\n",
       "            share = 1.0 if net.loss_code == SSE else batch_weight / total_weight\n"
       "            total += batch_loss if net.loss_code == SSE else "
       "batch_loss * (batch_weight / total_weight)\n",
       "the blocked trainer's full-batch loss as batch_loss * (batch_weight / total_weight), as before "
       "a31a282: under fastmath, loss(X, Y) only to the last bit"),
    _m("history-grown-drops-the-last-epoch", "training.py",
       "        b[:done] = a[:done]\n",
       "        b[: done - 1] = a[: done - 1]\n",
       "growing the per-epoch arrays loses the last epoch recorded before the growth"),
    _m("history-grown-schedule-restarts", "training.py",
       "rates(run.lrs.shape[0], size)",
       "rates(0, size - run.lrs.shape[0])",
       "the learning rates of the epochs added by growing the arrays restart the schedule at epoch 0"),
    _m("fast-threshold-read-when-compiled", "fast.py",
       "    return rows * work <= _SMALL_MAX_WORK_COMPILED\n",
       "    return rows * work <= SMALL_MAX_WORK\n",
       "compiled code freezes the patchable threshold into the cache"),
)  # fmt: skip

BY_ID = {m.id: m for m in CATALOG}
assert len(BY_ID) == len(CATALOG), "duplicate mutant ids"

# Written next to the copied package and loaded with -p (not a conftest): records which loopnet the tests
# imported, and deselects the float32 parametrizations unless asked to keep them.
PLUGIN = """\
import os, sys


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MUTATION_SKIP_FLOAT32") != "1":
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        (drop if callspec and "float32" in callspec.id.split("-") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session):
    mod = sys.modules.get("loopnet")
    with open(os.environ["MUTATION_IMPORTED"], "w") as fh:
        fh.write(getattr(mod, "__file__", "") or "")
"""


# --- source and tests -------------------------------------------------------------------------------


def _git(*args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def stage_source(dest: Path, rev: str | None, tests: bool) -> str:
    """loopnet/, README.md, .ci/ from the working tree (rev None) or a git revision into dest; and, if
    asked, tests/ into dest's parent (each run copies dest, then the tests it is given)."""
    dest.mkdir(parents=True)
    try:
        return _stage(dest, rev, tests)
    finally:
        if (dest / "tests").exists():
            shutil.move(dest / "tests", dest.parent / "tests")


def _stage(dest: Path, rev: str | None, tests: bool) -> str:
    paths = ("loopnet", "README.md", ".ci", "tests") if tests else ("loopnet", "README.md", ".ci")
    if rev is None:
        no_bytecode = shutil.ignore_patterns("__pycache__", "*.py[co]")
        for path in paths:
            if (REPO / path).is_dir():
                shutil.copytree(REPO / path, dest / path, ignore=no_bytecode)
            elif (REPO / path).exists():
                shutil.copy2(REPO / path, dest / path)
        return f"working tree of {REPO}"
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip()
    for path in paths:
        if not _git("ls-tree", "--name-only", commit, path).strip():
            if path == "loopnet":
                raise SystemExit(f"revision {rev} has no loopnet/")
            continue
        with tarfile.open(fileobj=io.BytesIO(_git("archive", "--format=tar", commit, path))) as tar:
            tar.extractall(dest, filter="data")
    return f"{rev} ({commit[:12]})"


def select_tests(tests: Path, all_tests: bool) -> dict:
    """The test modules to run (in run order), the modules left out and the single tests deselected."""
    found = sorted(p.name for p in tests.glob("test_*.py"))
    skipped = [] if all_tests else [name for name in found if name in SLOW_MODULES]
    chosen = [name for name in found if name not in skipped]
    rank = {name: i for i, name in enumerate(MODULE_ORDER)}
    chosen.sort(key=lambda name: (rank.get(name, len(rank)), name))
    deselected = [] if all_tests else [t for t in SLOW_TESTS if t.split("::")[0] in chosen]
    return {"modules": chosen, "skipped": skipped, "deselected": deselected, "skip_float32": not all_tests}


def pick_form(mutant: Mutant, source: Path) -> tuple[tuple[str, str] | None, str]:
    """(the first form (original, replacement) whose original occurs once in the file, or None; why not)."""
    path = source / "loopnet" / mutant.file
    if not path.exists():
        return None, f"{mutant.id}: loopnet/{mutant.file} does not exist"
    text = path.read_text()
    for form in mutant.forms():
        if text.count(form[0]) == 1:
            return form, ""
    count = text.count(mutant.original)
    how = "is not in" if count == 0 else f"occurs {count} times in (ambiguous)"
    return (
        None,
        f"{mutant.id}: its snippet {how} loopnet/{mutant.file}:\n{textwrap.indent(mutant.original, '  | ')}",
    )


# --- one run --------------------------------------------------------------------------------------------

FAILED_LINE = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)


def first_failure(output: str, returncode: int) -> str:
    """The first failing test named in pytest's summary (or how the run ended)."""
    match = FAILED_LINE.search(output)
    if match:
        return match.group(2) if match.group(1) == "FAILED" else f"ERROR {match.group(2)}"
    if returncode < 0:
        where = re.findall(r'File "[^"]*/(tests/test_\w+\.py)", line \d+ in (\w+)', output)
        tail = f" in {where[-1][0]}::{where[-1][1]}" if where else ""
        return f"crashed ({signal.Signals(-returncode).name}){tail}"
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:100] if lines else f"exit {returncode}"


def _sigint_default() -> None:
    """Run in the child before exec: Ctrl-C back to its default disposition.

    A run started in the background (``&`` without job control, nohup) inherits SIGINT ignored, and Python
    then keeps it ignored instead of installing its KeyboardInterrupt handler: test_training.py's Ctrl-C
    tests, which expect that handler before and after a fit, would fail the baseline.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_pytest(cmd: list[str], cwd: Path, env: dict, log: Path, timeout: float) -> tuple[int, bool]:
    """(returncode, timed out); on a timeout the whole process group of this run is ended."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_sigint_default,
        )  # fmt: skip
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # the session started above: pytest and its subprocesses
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return proc.returncode, True


def run_one(mutant: Mutant | None, form, source: Path, tests: Path, sel: dict, args) -> dict:
    """Copy, apply form = (original, replacement), check the import, run pytest: the result as a dict."""
    name = mutant.id if mutant else "baseline"
    work = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-"))
    start = time.monotonic()
    result: dict = {"id": name}
    try:
        shutil.copytree(source, work, dirs_exist_ok=True)
        shutil.copytree(tests, work / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
        (work / "_mutation_plugin.py").write_text(PLUGIN)
        if mutant:
            path = work / "loopnet" / mutant.file
            text = path.read_text()
            assert text.count(form[0]) == 1, mutant.id
            path.write_text(text.replace(*form))
        (work / "numba-cache").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_") and k != "PYTHONPATH"}
        env.update(
            PYTHONPATH=str(work),
            NUMBA_CACHE_DIR=str(work / "numba-cache"),
            PYTHONDONTWRITEBYTECODE="1",
            MUTATION_IMPORTED=str(work / "imported.txt"),
            MUTATION_SKIP_FLOAT32="1" if sel["skip_float32"] else "0",
        )
        nice = ["nice", "-n", str(args.nice)]
        want = str(work / "loopnet" / "__init__.py")
        probe = subprocess.run(
            [*nice, sys.executable, "-c", "import loopnet; print(loopnet.__file__)"],
            cwd=work, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if probe.returncode != 0:  # the mutant breaks the import itself: every test would fail
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            result |= {"status": "killed" if mutant else "error", "first_failure": f"import fails: {last}"}
            return result
        if probe.stdout.strip() != want:
            result |= {"status": "error", "first_failure": f"imports {probe.stdout.strip()}, not the copy"}
            return result
        cmd = [
            *nice, sys.executable, "-m", "pytest",
            *(f"tests/{m}" for m in sel["modules"]),
            *(f"--deselect=tests/{t}" for t in sel["deselected"]),
            "-x", "-q", "-rfE", "-p", "no:cacheprovider", "-p", "_mutation_plugin", *args.pytest_args,
        ]  # fmt: skip
        returncode, timed_out = _run_pytest(cmd, work, env, work / "pytest.log", args.timeout)
        output = (work / "pytest.log").read_text(errors="replace")
        imported = (work / "imported.txt").read_text() if (work / "imported.txt").exists() else ""
        lines = output.strip().splitlines()
        result |= {"returncode": returncode, "imported": imported, "summary": lines[-1] if lines else ""}
        result["tail"] = lines[-15:]
        if timed_out:
            result |= {"status": "timeout", "first_failure": f"no result within {args.timeout:g} s"}
        elif imported != want and (imported or returncode == 0):
            result |= {"status": "error", "first_failure": f"the tests imported {imported!r}, not the copy"}
        elif returncode == 0:
            result |= {"status": "survived", "first_failure": ""}
        elif returncode in (1, 2) or returncode < 0:  # failures, collection errors, a crash
            result |= {"status": "killed", "first_failure": first_failure(output, returncode)}
        else:  # 3 internal error, 4 usage error, 5 no tests collected: the run's problem, not a kill
            result |= {"status": "error", "first_failure": first_failure(output, returncode)}
        return result
    finally:
        result["seconds"] = round(time.monotonic() - start, 1)
        if args.keep:
            print(f"  kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


# --- the command ------------------------------------------------------------------------------------


def score_of(results: list[dict]) -> dict:
    """killed / non-equivalent; a timeout counts as killed, an error or a refused mutant as neither."""
    counted = [r for r in results if not r["equivalent"] and r["status"] not in ("error", "refused")]
    killed = sum(r["status"] in ("killed", "timeout") for r in counted)
    return {
        "killed": killed,
        "non_equivalent": len(counted),
        "percent": round(100.0 * killed / len(counted), 1) if counted else 0.0,
        "timeouts": sum(r["status"] == "timeout" for r in results),
        "errors": sum(r["status"] == "error" for r in results),
        "refused": sum(r["status"] == "refused" for r in results),
        "equivalent": sum(r["equivalent"] for r in results),
        "equivalent_killed": sum(r["equivalent"] and r["status"] in ("killed", "timeout") for r in results),
    }


def row(r: dict) -> str:
    eq = "  [expected equivalent]" if r.get("equivalent") else ""
    return f"{r['id']:34} {r['status']:9} {r['seconds']:7.0f}  {r['first_failure']}{eq}"


def write_json(path: Path | None, report: dict, say: bool = True) -> None:
    if path:
        path.write_text(json.dumps(report, indent=1))
        if say:
            print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--list", action="store_true", help="print the catalog, check its snippets, exit")
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    parser.add_argument(
        "--tests",
        type=Path,
        help="the tests directory to run (default: tests/ of the working tree or of REV)",
    )
    parser.add_argument(
        "--source", metavar="REV", help="take loopnet/, tests/, README.md, .ci/ from a revision"
    )
    parser.add_argument(
        "--all-tests",
        action="store_true",
        help="also run the slow modules, tests and float32 parametrizations",
    )
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments, one string, shell-split")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant (default 600)")
    parser.add_argument("--nice", type=int, default=10, help="niceness of the runs (default 10)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unmutated copy")
    parser.add_argument("--keep", action="store_true", help="keep each run's temp dir (and say where)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    args = parser.parse_args(argv)
    args.pytest_args = shlex.split(args.pytest_args)

    unknown = [i for i in args.only or () if i not in BY_ID]
    if unknown:
        parser.error(f"unknown mutant id(s): {', '.join(unknown)} (see --list)")
    mutants = [BY_ID[i] for i in args.only] if args.only else list(CATALOG)

    with tempfile.TemporaryDirectory(prefix="mutation-source-") as tmp:
        source = Path(tmp) / "src"
        described = stage_source(source, args.source, tests=args.tests is None)
        forms, refused = {}, {}
        for m in mutants:
            forms[m.id], why = pick_form(m, source)
            if why:
                refused[m.id] = why
                print(f"REFUSED {why}", file=sys.stderr)
        if refused:
            print(f"{len(refused)} mutant(s) refused: a snippet must occur exactly once in its file; the "
                  "runs below leave them out\n", file=sys.stderr)  # fmt: skip
        if args.list:
            for m in mutants:
                flag = "  (expected equivalent)" if m.equivalent else ""
                print(f"{m.id:34} loopnet/{m.file:15} {m.description}{flag}")
            print(f"\n{len(mutants)} mutants, {sum(m.equivalent for m in mutants)} expected equivalent; "
                  f"snippets checked against {described}")  # fmt: skip
            return 2 if refused else 0

        tests = (args.tests or Path(tmp) / "tests").resolve()
        if not tests.is_dir():
            parser.error(f"--tests {tests} is not a directory")
        sel = select_tests(tests, args.all_tests)
        if not sel["modules"]:
            parser.error(f"no test_*.py in {tests}")
        print(f"source: {described}\ntests:  {tests}\nrun:    {' '.join(sel['modules'])}")
        if sel["skipped"]:
            print(f"left out (slow, no numbers checked; --all-tests runs them): {' '.join(sel['skipped'])}")
        if sel["deselected"]:
            print(f"deselected (same reason): {' '.join(sel['deselected'])}")
        if sel["skip_float32"]:
            print(
                "deselected: the float32 parametrizations (the float64 ones check the same code; --all-tests)"
            )
        print(f"each run: nice -n {args.nice} pytest -x -q -p no:cacheprovider, fresh NUMBA_CACHE_DIR, "
              f"timeout {args.timeout:g} s\n", flush=True)  # fmt: skip

        report = {
            "command": sys.argv,
            "source": described,
            "tests": str(tests),
            **sel,
            "timeout": args.timeout,
        }
        results: list[dict] = []
        report["results"] = results
        began = time.monotonic()
        header = f"{'id':34} {'status':9} {'seconds':>7}  first failing test"
        print(header, flush=True)
        if not args.no_baseline:
            baseline = run_one(None, None, source, tests, sel, args)
            report["baseline"] = baseline
            ok = baseline["status"] == "survived"
            print(row(baseline | {"status": "passed" if ok else "FAILED"}), flush=True)
            if not ok:
                print("the unmutated copy fails these tests, so every mutant would look killed: stopping\n"
                      + "\n".join(baseline.get("tail", [])), file=sys.stderr)  # fmt: skip
                write_json(args.json, report)
                return 3
        for m in mutants:
            if m.id in refused:
                why = refused[m.id].splitlines()[0].split(": ", 1)[1].rstrip(":")
                r = {"id": m.id, "status": "refused", "seconds": 0.0, "first_failure": why}
            else:
                r = run_one(m, forms[m.id], source, tests, sel, args)
                r |= {"original": forms[m.id][0], "replacement": forms[m.id][1]}
            r |= {"file": m.file, "description": m.description, "equivalent": m.equivalent}
            results.append(r)
            print(row(r), flush=True)
            write_json(args.json, report, say=False)  # as it goes: a long run can be read before it ends

    score = score_of(results)
    report |= {"score": score, "seconds": round(time.monotonic() - began), "finished": time.ctime()}
    print(f"\n{header}")
    for r in results:
        print(row(r))
    print(
        f"\nscore: {score['killed']}/{score['non_equivalent']} non-equivalent mutants killed "
        f"({score['percent']:.0f}%); timeouts {score['timeouts']} (counted as killed); "
        f"errors {score['errors']}; refused {score['refused']}; "
        f"expected equivalent {score['equivalent']}, of them killed {score['equivalent_killed']}"
    )
    survivors = [r["id"] for r in results if r["status"] == "survived" and not r["equivalent"]]
    if survivors:
        print(f"survived: {' '.join(survivors)}")
    print(f"total {report['seconds']} s")
    write_json(args.json, report)
    return 1 if score["errors"] or score["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
