"""Choosing the regularisation weight λ from the data: minimum of an estimated risk (SURE).

For ``y = Hx + e`` with white Gaussian noise of standard deviation σ, Stein's unbiased estimate of the
*predicted* risk ``E‖H(x_λ − x)‖²`` of an estimate ``x_λ(y)`` is (Ramani, Blu & Unser 2008)::

    R(λ) = ‖H x_λ − y‖² − M σ² + 2 σ² · div_y(H x_λ(y))

and the divergence is estimated by one Monte-Carlo probe ``b ~ N(0, I)``:
``div ≈ bᵀ(H x_λ(y + εb) − H x_λ(y)) / ε``. Each value of ``R`` therefore costs two solves; no
reference image is needed, only σ (estimated from the data).
"""

from __future__ import annotations

from collections.abc import Callable

#: Factor between λ values while walking downhill on the risk, and the most steps taken.
STEP_FACTOR = 2.0
MAX_STEPS = 12


def minimise_risk_lam(risk: Callable[[float], float], *, lam_start: float) -> float:
    """The λ minimising ``risk`` (e.g. SURE), searched in log λ from ``lam_start``.

    ``risk`` is evaluated at ``lam_start`` and a factor 2 either side, then λ walks downhill by factors
    of 2 until the risk rises again (at most twelve steps), and a parabola in log λ through the last three
    values gives the answer. Typically three to five evaluations.

    Parameters
    ----------
    risk : callable
        ``λ -> estimated risk`` (lower is better).
    lam_start : float
        First λ tried (> 0), e.g. the method's default.

    Returns
    -------
    float
        The vertex of the parabola, kept within the last bracket; the last λ tried when the risk kept
        falling to the end of the walk.
    """
    if not lam_start > 0:
        raise ValueError(f"lam_start must be positive, got {lam_start}")

    def lam(k: int) -> float:  # λ on the grid lam_start · 2^k
        return lam_start * STEP_FACTOR**k

    values = {k: risk(lam(k)) for k in (-1, 0, 1)}
    centre = 0
    for _ in range(MAX_STEPS):
        best = min(values, key=values.get)
        if best == centre:
            break
        centre = best
        ahead = best + (1 if best == max(values) else -1)
        values[ahead] = risk(lam(ahead))
    else:
        return lam(min(values, key=values.get))
    r_left, r_mid, r_right = values[centre - 1], values[centre], values[centre + 1]
    curvature = r_left - 2 * r_mid + r_right
    shift = 0.5 * (r_left - r_right) / curvature if curvature > 0 else 0.0  # in grid steps
    return lam_start * STEP_FACTOR ** (centre + max(-1.0, min(1.0, shift)))
