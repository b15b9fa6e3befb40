"""Step sizes derived from the operator norm, for solvers that are not given one."""

from __future__ import annotations

from ..operators.base import LinearOperator

#: Fraction of ``1/‖A‖²`` used when a step is left out: power iteration approaches ``‖A‖`` from below.
STEP_MARGIN = 0.95


def lipschitz_step(op: LinearOperator, *, margin: float = STEP_MARGIN) -> float:
    """Step ``margin / ‖A‖²`` for gradient steps on ``½‖Ax − y‖²`` (whose gradient is ‖A‖²-Lipschitz).

    Parameters
    ----------
    op : LinearOperator
        The forward model ``A``; its norm is estimated once by power iteration and cached.
    margin : float
        Safety factor below the largest stable step ``1/‖A‖²``.

    Returns
    -------
    float
    """
    norm = op.norm()
    if norm <= 0.0:
        raise ValueError(f"{op!r} has norm 0; no step size can be derived from it")
    return margin / norm**2


def check_step(step: float | None, op: LinearOperator) -> float:
    """Return ``step`` if it is positive, :func:`lipschitz_step` of ``op`` if it is None."""
    if step is None:
        return lipschitz_step(op)
    if not step > 0:
        raise ValueError(f"step must be positive, got {step}")
    return float(step)


def check_n_iter(n_iter: int) -> int:
    """Return ``n_iter`` as an int, refusing anything below 1."""
    if isinstance(n_iter, bool) or int(n_iter) != n_iter or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}")
    return int(n_iter)
