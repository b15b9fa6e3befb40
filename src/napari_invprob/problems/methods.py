"""The rules every problem reads: the table entry describing one method, and the checks of what a
user passes to any front door (method and its options, λ, iteration count, warm start).

:mod:`~napari_invprob.deconvolution.deconvolve` and :mod:`~napari_invprob.tomography.reconstruct` keep
their own tables of methods; the widgets (method menus and tooltips), the command line (choices and
``--help``) and :mod:`~napari_invprob.distributed` read the same entries, so a value is refused alike
wherever it is given.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from .._shared.device import check_float32, to_tensor
from ..priors.denoisers import check_denoiser
from ..solvers.fbp import check_filter

#: The keywords a front door passes to every method itself; the others are the method's options.
PASSED = ("lam", "n_iter", "x0")


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
        Returns the generator of iterates; its keyword-only arguments other than :data:`PASSED` (and
        what the problem passes itself) are the method's options.
    uses_lam : bool
        Whether the regularisation weight λ means anything for this method.
    iterative : bool
        False for direct methods that yield once.
    default_lam : float or None
        λ used when the caller gives none.
    default_n_iter : int
        Iterations used when the caller gives none (1 for direct methods).
    auto_lam : bool
        Whether ``lam="auto"`` can choose λ from the data for this method.
    """

    name: str
    summary: str
    solver: Callable
    uses_lam: bool
    iterative: bool
    default_lam: float | None = None
    default_n_iter: int = 1
    auto_lam: bool = False

    @property
    def takes_denoiser(self) -> bool:
        """Whether the method takes the option ``denoiser`` (the plug-and-play methods)."""
        return "denoiser" in self.keywords()

    def keywords(self, passed: tuple[str, ...] = PASSED) -> dict[str, inspect.Parameter]:
        """The method's options: the solver's keyword-only parameters other than ``passed``, by name."""
        return {
            name: p for name, p in inspect.signature(self.solver).parameters.items()
            if p.kind is p.KEYWORD_ONLY and name not in passed
        }

    def alias(self, name: str, summary: str) -> MethodSpec:
        """The same method under another name (``"tv"`` for a problem's best TV solver)."""
        return replace(self, name=name, summary=summary)

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


def method_spec(methods: dict[str, MethodSpec], method, problem: str) -> MethodSpec:
    """The entry of ``methods`` named ``method``.

    Parameters
    ----------
    methods : dict
        A problem's table (``METHODS``), aliases included.
    method : str
        The name the user gave.
    problem : str
        What the table is for, in the error message (``"deconvolution"``, ``"reconstruction"``).

    Returns
    -------
    MethodSpec

    Raises
    ------
    ValueError
        For a name not in the table (the message lists the valid ones).
    """
    spec = methods.get(method) if isinstance(method, str) else None
    if spec is None:
        raise ValueError(f"unknown {problem} method {method!r}; valid methods are {', '.join(methods)}")
    return spec


def _non_negative(name, value):
    if check_float32(value, name) < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")


def _positive(name, value):
    if not check_float32(value, name) > 0:
        raise ValueError(f"{name} must be positive, got {value}")


def _positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _relaxation(name, value):
    if not 0 < check_float32(value, name) < 2:
        raise ValueError(f"{name} must lie in (0, 2), got {value}")


def _levels(name, value):
    if isinstance(value, str) and value == "auto":
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be 'auto' or a positive integer, got {value!r}")


def _text(name, value):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a name (text), got {type(value).__name__} {value!r}")


def _denoiser(name, value):
    _text(name, value)
    check_denoiser(value)


def _filter(name, value):
    _text(name, value)
    check_filter(value)


#: Checks of the methods' options (type and range) by option name, the same in every problem.
OPTION_CHECKS: dict[str, Callable[[str, object], None]] = {
    "eps": _non_negative,
    "nsr": _non_negative,
    "regulariser": _text,
    "filter": _filter,
    "denoiser": _denoiser,
    "step": _positive,
    "step_ratio": _positive,
    "relaxation": _relaxation,
    "levels": _levels,
    "rho": _positive,
    "lr": _positive,
    "n_inner": _positive_int,
    "n_cg": _positive_int,
    "nonneg": lambda name, value: check_bool(value, name),
}


def check_options(spec: MethodSpec, options: dict, *, passed: tuple[str, ...] = PASSED) -> None:
    """Refuse an option the method does not take, or a value :data:`OPTION_CHECKS` refuses.

    An option whose default is None (chosen by the method) may be given as None.

    Parameters
    ----------
    spec : MethodSpec
        The method.
    options : dict
        The options the user gave, by name.
    passed : tuple of str
        The keywords the front door passes itself (not options).

    Raises
    ------
    TypeError
        For an option the method does not take (the message lists those it takes), or a value of the
        wrong type.
    ValueError
        For a value out of range.
    """
    allowed = spec.keywords(passed)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no options"
        raise TypeError(f"method {spec.name!r} got unknown option(s) {', '.join(unknown)}; it {takes}")
    for name, value in options.items():
        check = OPTION_CHECKS.get(name)
        if check is not None and not (value is None and allowed[name].default is None):
            check(f"option {name}", value)


def check_lam(lam, spec: MethodSpec) -> float | str:
    """λ as the method will use it.

    Parameters
    ----------
    lam : float, "auto" or None
        The user's λ; None takes the method's default (0 for methods without λ).
    spec : MethodSpec
        The method.

    Returns
    -------
    float or "auto"

    Raises
    ------
    TypeError
        For anything but a real number, None or ``"auto"``.
    ValueError
        For a negative, non-finite or beyond-float32 λ, another string, or ``"auto"`` for a method
        that cannot choose its λ (:attr:`MethodSpec.auto_lam`).
    """
    if lam is None:
        return spec.default_lam if spec.default_lam is not None else 0.0
    if isinstance(lam, str):
        if lam != "auto":
            raise ValueError(f"lam must be a number, None or 'auto', got {lam!r}")
        if not spec.uses_lam:
            raise ValueError(f"lam='auto' chooses λ, but method {spec.name!r} has no λ")
        if not spec.auto_lam:
            raise ValueError(f"lam='auto' is not available for method {spec.name!r}")
        return lam
    if isinstance(lam, (bool, np.bool_)) or not isinstance(lam, (int, float, np.integer, np.floating)):
        raise TypeError(f"lam must be a number, None or 'auto', got {type(lam).__name__}")
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0, got {lam}")
    return check_float32(lam, "lam")


def check_n_iter(n_iter, default: int) -> int:
    """The iteration count: a positive integer (``5.0`` is refused), ``default`` for None.

    Parameters
    ----------
    n_iter : int or None
        The user's count.
    default : int
        The count for None (a method's :attr:`MethodSpec.default_n_iter`).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For anything but a positive integer (booleans and floats included).
    """
    if n_iter is None:
        return default
    if isinstance(n_iter, (bool, np.bool_)) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer, got {n_iter!r}")
    return int(n_iter)


def check_x0(x0, shape: tuple, device, what: str) -> torch.Tensor:
    """A warm start as a float32 tensor on ``device``, of the answer's shape.

    Parameters
    ----------
    x0 : array-like
        The user's warm start; not modified.
    shape : tuple of int
        The shape of the answer.
    device : torch.device
        Where to compute.
    what : str
        The answer, in the error message (``"the image"``, ``"the reconstruction"``).

    Returns
    -------
    torch.Tensor

    Raises
    ------
    ValueError
        For another shape, or NaN/Inf values.
    TypeError
        For non-numeric values.
    """
    start = to_tensor(x0, device, name="x0")
    if tuple(start.shape) != tuple(shape):
        raise ValueError(f"x0 has shape {tuple(start.shape)}, {what} has shape {tuple(shape)}")
    return start
