"""Two networks trained in two Python threads at once vs one after the other: the GIL is released.

    python bench/threads.py [--repeat 5]

Each Python thread calls ``numba.set_num_threads(1)`` first (a per-thread
setting), so the blocked kernels take their one-thread drivers and Numba's own
pool does not compete for the cores: any overlap comes from the compiled code
releasing the GIL. "one after the other" runs both fits in a single helper
thread with the same setting. Sequential time / threaded time is the speedup:
about 2 on two idle cores, 1 if the GIL were held. Each case is timed
``--repeat`` times, the two ways interleaved; the best of each is shown with
the range.

Cases: two digits-sized 64-128-10 relu/softmax networks on 1797 x 64 random
inputs at batch 32 (``fast.train_epochs_fast``), and two 2-4-1 XOR networks
(``fast.train_epochs_small``), each fit lasting roughly a second.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numba
import numpy as np

import loopnet

rng = np.random.default_rng(0)
DIGITS = (rng.random((1797, 64)), np.eye(10)[rng.integers(0, 10, 1797)])
XOR = (np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array([0, 1, 1, 0]))


def digits_net(seed: int) -> loopnet.Network:
    return loopnet.Network([64, 128, 10], activation="relu", output_activation="softmax",
                           loss="cross_entropy", seed=seed)  # fmt: skip


def xor_net(seed: int) -> loopnet.Network:
    return loopnet.Network([2, 4, 1], activation="tanh", loss="bce", seed=seed)


CASES = {
    # name: (network factory, data, fit keywords without epochs, epochs of the 1-epoch calibration)
    "digits 64-128-10, batch 32": (digits_net, DIGITS, {"lr": 0.01, "batch_size": 32}, 2),
    "XOR 2-4-1, full batch": (xor_net, XOR, {"lr": 1.0}, 20_000),
}


def fit_one_thread(net: loopnet.Network, data, kwargs: dict) -> None:
    numba.set_num_threads(1)  # this Python thread only
    net.fit(*data, **kwargs)


def in_threads(jobs: list) -> float:
    """Wall time of running every (net, data, kwargs) job in its own Python thread."""
    threads = [threading.Thread(target=fit_one_thread, args=job) for job in jobs]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def one_after_the_other(jobs: list) -> float:
    """Wall time of running the jobs in turn, in one helper thread with the same Numba setting."""

    def run_all() -> None:
        for job in jobs:
            fit_one_thread(*job)

    helper = threading.Thread(target=run_all)
    start = time.perf_counter()
    helper.start()
    helper.join()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings of each way (best is shown)")
    parser.add_argument("--seconds", type=float, default=1.0, help="rough length of one fit")
    args = parser.parse_args(argv)
    print(f"2 networks, 2 Python threads vs one after the other; numba.set_num_threads(1) in each; "
          f"{os.cpu_count()} cores; wall s, best of {args.repeat} (range)")  # fmt: skip
    print(f"| {'networks':<28} | {'epochs':>7} | {'one after the other':>19} | {'2 threads':>17} | "
          f"{'speedup':>16} | same |")  # fmt: skip
    print(f"|{'-' * 30}|{'-' * 9}|{'-' * 21}|{'-' * 19}|{'-' * 18}|------|")
    for name, (make, data, kwargs, calibration) in CASES.items():
        net = make(0)
        one_after_the_other([(net, data, {**kwargs, "epochs": 1})])  # load the kernels
        start = time.perf_counter()
        one_after_the_other([(net, data, {**kwargs, "epochs": calibration})])
        per_epoch = (time.perf_counter() - start) / calibration
        fit = {**kwargs, "epochs": max(1, round(args.seconds / per_epoch))}

        seq, par, speedups, same = [], [], [], True
        for _ in range(args.repeat):
            nets = [make(1), make(2)]
            seq.append(one_after_the_other([(n, data, fit) for n in nets]))
            want = [n.params.copy() for n in nets]
            nets = [make(1), make(2)]
            par.append(in_threads([(n, data, fit) for n in nets]))
            same = same and all(np.array_equal(n.params, w) for n, w in zip(nets, want))
            speedups.append(seq[-1] / par[-1])
        seq_s = f"{min(seq):.2f} ({min(seq):.2f}-{max(seq):.2f})"
        par_s = f"{min(par):.2f} ({min(par):.2f}-{max(par):.2f})"
        ratio = f"{min(seq) / min(par):.2f} ({min(speedups):.2f}-{max(speedups):.2f})"
        print(f"| {name:<28} | {fit['epochs']:>7} | {seq_s:>19} | {par_s:>17} | {ratio:>16} | {same!s:>4} |")
    print(
        "speedup = best sequential / best threaded (in brackets: the range of per-round ratios); "
        "same = the threaded fits gave exactly the sequential parameters in every round"
    )


if __name__ == "__main__":
    main()
