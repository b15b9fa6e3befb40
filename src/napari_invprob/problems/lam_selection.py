"""Choosing the regularisation weight λ from the data: Morozov's discrepancy principle."""

from __future__ import annotations

import math
from collections.abc import Callable

#: Factor between consecutive λ while bracketing the target, and the number of bisections after.
BRACKET_FACTOR = math.sqrt(10.0)
N_BISECTIONS = 3
MAX_BRACKET_STEPS = 12


def discrepancy_lam(
    residual_sq: Callable[[float], float],
    target: float,
    *,
    lam_start: float,
) -> float:
    """The λ at which the data misfit ``‖Hx_λ − y‖²`` meets ``target`` (e.g. ``τ·M·σ²``).

    The misfit grows with λ. Starting at ``lam_start``, λ is multiplied or divided by √10 until the
    target is bracketed, then the bracket is bisected three times in log λ (a factor of about 1.15);
    each step costs one solve, typically five to seven in all.

    Parameters
    ----------
    residual_sq : callable
        ``λ -> ‖Hx_λ − y‖²`` (one solve; warm-starting successive solves is the caller's business).
    target : float
        The misfit to meet.
    lam_start : float
        First λ tried (> 0), e.g. the method's default.

    Returns
    -------
    float
        The geometric middle of the final bracket; the bracket's edge when the target lies beyond
        the range searched.
    """
    if not lam_start > 0:
        raise ValueError(f"lam_start must be positive, got {lam_start}")
    lam = lam_start
    above = residual_sq(lam) > target
    factor = 1.0 / BRACKET_FACTOR if above else BRACKET_FACTOR
    low = high = lam
    for _ in range(MAX_BRACKET_STEPS):
        lam *= factor
        if (residual_sq(lam) > target) != above:
            low, high = sorted((lam, lam / factor))
            break
    else:
        return lam
    for _ in range(N_BISECTIONS):
        middle = math.sqrt(low * high)
        if residual_sq(middle) > target:
            high = middle
        else:
            low = middle
    return math.sqrt(low * high)
