"""Losses: the name -> code registry and the rules for which output fits which loss.

The loss math itself lives in the two kernels that use it, ``loss_value`` and
``output_delta`` (B1), in ``kernels.py`` with their NumPy twins in
``kernels_np.py``. The definitions (docs/design.md), for outputs ``a`` and
targets ``y`` of shape (N, K):

=================  ===============================================  ==========================
name               L                                                PyTorch equivalent
=================  ===============================================  ==========================
sse                1/2 sum_n sum_k (a - y)^2                        ``0.5 * MSELoss(reduction="sum")``
mse                mean over n and k of (a - y)^2                   ``MSELoss()``
bce                -mean over n and k of y ln a + (1-y) ln(1-a)     ``BCELoss()`` on sigmoid output
cross_entropy      -1/N sum_n sum_k y ln a                          ``CrossEntropyLoss()`` on logits
poisson            mean over n and k of y ln(y / a) - y + a         ``PoissonNLLLoss()`` on logits,
                   (y ln(y / a) = 0 where y = 0)                    plus mean of y ln y - y
=================  ===============================================  ==========================

``bce`` needs outputs in (0, 1) and is paired with a sigmoid output;
``cross_entropy`` needs a probability row and is paired with a softmax output;
``poisson`` (the half Poisson deviance of scikit-learn's
``MLPRegressor(loss="poisson")``) needs targets >= 0 and is paired with an
``exp`` output. For those canonical pairs the kernels compute the loss from the
logits ``z`` (log-sum-exp and softplus forms; for poisson ``y ln(y / a) = y
(ln y - z)``), so it stays finite even when ``a`` rounds to exactly 0 or 1 (or
0 for poisson), and the output delta is ``(a - y) * scale``.
"""

from __future__ import annotations

SSE, MSE, BCE, CROSS_ENTROPY, POISSON = range(5)

LOSSES: dict[str, int] = {
    "sse": SSE,
    "mse": MSE,
    "bce": BCE,
    "cross_entropy": CROSS_ENTROPY,
    "poisson": POISSON,
}
"""Loss name -> the integer code the kernels switch on."""

NAMES: dict[int, str] = {code: name for name, code in LOSSES.items()}

OUTPUT_ACTIVATIONS: dict[str, tuple[str, ...] | None] = {
    "sse": None,  # any output activation
    "mse": None,
    "bce": ("sigmoid",),
    "cross_entropy": ("softmax",),
    "poisson": ("exp",),
}
"""Loss name -> the output activations it may follow (None: any)."""

SUMMED = frozenset({SSE})
"""Losses that sum over samples (the rest average): an epoch's loss over several
minibatches is the sum of the batch losses for these, the size-weighted mean for
the rest."""


def code_of(name: str, output_activation: str) -> int:
    """The kernel code of loss ``name``, checking it fits ``output_activation``."""
    if not isinstance(name, str):
        raise TypeError(f"loss must be a string, got {type(name).__name__} {name!r}")
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    allowed = OUTPUT_ACTIVATIONS[name]
    if allowed is not None and output_activation not in allowed:
        raise ValueError(
            f"loss {name!r} needs output_activation={allowed[0]!r} "
            f"(got {output_activation!r}); use loss='sse' or 'mse' for other outputs"
        )
    return LOSSES[name]
