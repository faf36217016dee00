"""Seconds per training epoch, loops against the NumPy twin, on the README's three networks.

    python bench/epoch_times.py        (needs scikit-learn for the digits data: pip install ".[bench]")

One run, after a warm-up fit that compiles the loops; ratios are numpy / loops,
so above 1 means the loops are faster. Issue 3's `loopnet bench` will replace this.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits

import loopnet


def seconds_per_epoch(net, X, Y, epochs, lr, batch_size):
    net.fit(X, Y, epochs=1, lr=lr, batch_size=batch_size)  # compile / warm up
    start = time.perf_counter()
    net.fit(X, Y, epochs=epochs, lr=lr, batch_size=batch_size)
    return (time.perf_counter() - start) / epochs


def main():
    X_and = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    Y_and = np.array([0, 0, 0, 1])
    digits = load_digits()
    X_dig, Y_dig = digits.data / 16.0, np.eye(10)[digits.target]
    classifier = {"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"}
    cases = [
        ("AND 2-2-1, 4 rows, full batch", [2, 2, 1], {}, X_and, Y_and, 2.0, None, 20000),
        ("digits 64-128-10, batch 32", [64, 128, 10], classifier, X_dig, Y_dig, 0.1, 32, 5),
        ("digits 64-128-10, full batch", [64, 128, 10], classifier, X_dig, Y_dig, 0.1, None, 5),
    ]
    print(f"{'network':32} {'loops':>12} {'numpy twin':>12} {'numpy/loops':>12}")
    for title, sizes, kwargs, X, Y, lr, batch_size, epochs in cases:
        t = {
            backend: seconds_per_epoch(
                loopnet.Network(sizes, backend=backend, seed=0, **kwargs), X, Y, epochs, lr, batch_size
            )
            for backend in ("loops", "numpy")
        }
        ratio = t["numpy"] / t["loops"]
        print(f"{title:32} {t['loops'] * 1e6:>10.1f}us {t['numpy'] * 1e6:>10.1f}us {ratio:>11.2f}x")


if __name__ == "__main__":
    main()
