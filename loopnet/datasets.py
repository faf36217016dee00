"""The articles' tiny datasets (shared/seeds/), as float arrays with 2-D targets.

Each function returns fresh arrays, so callers may modify them freely.
"""

from __future__ import annotations

import numpy as np


def and_gate() -> tuple[np.ndarray, np.ndarray]:
    """Seed 000: the two-input AND gate. X (4, 2), Y (4, 1): only [1, 1] -> 1."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([[0], [0], [0], [1]], dtype=np.float64)


def xor_gate() -> tuple[np.ndarray, np.ndarray]:
    """Seed 002: the two-input XOR gate. X (4, 2), Y (4, 1): 1 where the inputs differ."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array([[0], [1], [1], [0]], dtype=np.float64)


def three_bit() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seed 001: the 3-bit numbers 0..7 as rows of bits; the target is the last bit (odd numbers).

    Returns (X_train, Y_train, X_test, Y_test): the first 6 rows train, the last
    two ([1, 1, 0] -> 0 and [1, 1, 1] -> 1) are held out.
    """
    X = np.array([[(n >> 2) & 1, (n >> 1) & 1, n & 1] for n in range(8)], dtype=np.float64)
    Y = X[:, 2:3].copy()
    return X[:6], Y[:6], X[6:], Y[6:]


def perceptron_records() -> tuple[np.ndarray, np.ndarray]:
    """Seed 003: 7 records of 3 binary features and their binary labels.

    X (7, 3), Y (7, 1), as published in the article's repository.
    """
    X = np.array(
        [[0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, 1], [0, 1, 0]], dtype=np.float64
    )
    Y = np.array([[1], [0], [0], [1], [1], [0], [1]], dtype=np.float64)
    return X, Y
