"""A small table entry describing one reconstruction method, shared by the Python calls, the
widgets (method menus and tooltips) and the command line (choices and ``--help``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a bool after checking that it is one (``True``/``False`` or a NumPy bool).

    Parameters
    ----------
    value : object
        A switch the caller gave (``nonneg``, ...).
    name : str
        What to call it in the error message.

    Returns
    -------
    bool

    Raises
    ------
    TypeError
        For anything else: ``"maybe"``, ``"false"`` (which ``bool()`` would make True), 0 or 1.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


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

    def warn_unused(self, lam, n_iter) -> None:
        """Warn about a λ or an iteration count given to a method that does not use it.

        Parameters
        ----------
        lam : float, str or None
            The λ the caller gave (None: none given).
        n_iter : int or None
            The iteration count the caller gave (None, or 1 for a direct method: nothing to report).

        Warns
        -----
        UserWarning
            A λ for a method without one (:attr:`uses_lam` False), more than one iteration for a direct
            method (:attr:`iterative` False): the value changes nothing, which the user should know.
        """
        if lam is not None and not self.uses_lam:
            warnings.warn(f"method {self.name!r} has no λ; lam={lam!r} is ignored", UserWarning, stacklevel=4)
        if n_iter is not None and n_iter != 1 and not self.iterative:
            warnings.warn(f"method {self.name!r} is direct (one step); n_iter={n_iter!r} is ignored", UserWarning,
                          stacklevel=4)
