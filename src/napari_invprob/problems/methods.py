"""A small table entry describing one reconstruction method, shared by the Python calls, the
widgets (method menus and tooltips) and the command line (choices and ``--help``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class MethodSpec:
    """One method a user can pick.

    Attributes
    ----------
    name : str
        The name users type (``"admm-tv"``, ``"sirt"``, ...).
    summary : str
        One line saying what it does and when to pick it (shown as a tooltip and in ``--help``).
    solver : callable
        Returns the generator of iterates; its keyword arguments are the method's parameters.
    uses_lam : bool
        Whether the regularisation weight λ means anything for this method.
    iterative : bool
        False for direct methods that yield once.
    default_lam : float or None
        λ used when the caller gives none.
    default_n_iter : int
        Iterations used when the caller gives none (1 for direct methods).
    """

    name: str
    summary: str
    solver: Callable
    uses_lam: bool
    iterative: bool
    default_lam: float | None = None
    default_n_iter: int = 1
