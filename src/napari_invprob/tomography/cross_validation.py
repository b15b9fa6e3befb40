"""Choosing the regularisation weight λ of a tomographic reconstruction by cross-validation (SURE, for
deconvolution, is its neighbour :mod:`~napari_invprob.problems.lam_selection`).

Projections not used by a reconstruction are fresh data for it: hold out every ``k``-th projection
(in angle order), reconstruct from the others with each candidate λ, reproject the reconstruction at
the held-out angles with :func:`napari_invprob.project` and score how well it predicts them. Too small a
λ fits the noise of the kept projections, too large a λ smooths away structure; either predicts the
held-out projections worse. The score is the normalised cross-correlation (Pearson correlation over
all held-out pixels), which ignores a global intensity offset and scale.

The same hold-out scores how consistent a tilt series is (:func:`held_out_misfit`): with λ fixed, a
series that is well aligned, about the right tilt axis and in line integrals is predicted best.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..problems.methods import method_spec
from .chunks import make_plan, solve_in_chunks
from .geometry import project
from .methods import METHODS

_DEFAULT_SPAN = np.logspace(-1.5, 1.5, 7)  # candidate λ relative to the method's default


@dataclass(frozen=True)
class CrossValidation:
    """Scores of candidate λ values.

    Attributes
    ----------
    lams : numpy.ndarray
        The λ values scored so far.
    scores : numpy.ndarray
        Normalised cross-correlation of the held-out projections with the reprojections (higher is
        better, at most 1), one per λ.
    best_lam : float
        The λ with the highest score.
    held_out : numpy.ndarray
        Indices of the held-out projections.
    """

    lams: np.ndarray
    scores: np.ndarray
    best_lam: float
    held_out: np.ndarray = field(repr=False)


def normalised_cross_correlation(a, b) -> float:
    """Pearson correlation of two arrays of one shape (1 for a perfect match up to offset and scale)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    norm = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / norm) if norm > 0 else 0.0


def held_out_projections(angles, k: int) -> np.ndarray:
    """Indices of every ``k``-th projection in angle order, starting at the ``k // 2``-th.

    Starting inside the range keeps the extreme tilts, which a reconstruction cannot predict, among
    the kept projections.
    """
    order = np.argsort(np.asarray(angles, dtype=np.float64), kind="stable")
    return np.sort(order[k // 2 :: k])


def held_out_misfit(
    tilt_series,
    angles,
    *,
    k: int = 4,
    method: str = "sirt",
    n_iter: int | None = 50,
    tilt_axis: str = "y",
    device=None,
    **options,
) -> float:
    """How badly a reconstruction from part of a tilt series predicts the rest: ``1 − NCC``.

    Holds out every ``k``-th projection (:func:`held_out_projections`), reconstructs from the others
    with :func:`napari_invprob.reconstruct`, reprojects at the held-out angles with
    :func:`napari_invprob.project` and returns one minus the :func:`normalised_cross_correlation` of
    the reprojections with the held-out projections. A consistent series (well aligned, the right tilt
    axis, line integrals) scores near 0; drifts, a wrong axis or an offset taken as signal raise it.
    Crop the series along the tilt axis to score a few slices only (slices are independent).

    Parameters
    ----------
    tilt_series : array-like
        A sinogram ``(n_angles, n_detector)`` or a tilt series ``(n_angles, rows, cols)``; not modified.
    angles : array-like of float
        Degrees, one per projection.
    k : int
        Hold out every ``k``-th projection in angle order (at least 2).
    method : str
        Reconstruction method (``napari_invprob.tomography.reconstruct.METHODS``).
    n_iter : int or None
        Its iterations (None: the method's default).
    tilt_axis : {"y", "x"}
        As for :func:`napari_invprob.reconstruct`.
    device : str, torch.device or None
        Where to compute.
    **options
        Passed on to :func:`napari_invprob.reconstruct` (e.g. ``lam``).

    Returns
    -------
    float
        ``1 − NCC`` in [0, 2]: 0 for a perfect prediction up to offset and scale.

    Raises
    ------
    ValueError
        If the data are not 2D or 3D, the angle count does not match, or ``k`` leaves fewer than 2
        projections on either side.
    """
    split = _HoldOut.check(tilt_series, angles, k)
    return 1.0 - split.score(method=method, n_iter=n_iter, tilt_axis=tilt_axis, device=device, **options)


@dataclass(frozen=True)
class _HoldOut:
    """A tilt series split into kept and held-out projections (every ``k``-th held out)."""

    data: np.ndarray
    angles: np.ndarray
    held: np.ndarray
    kept: np.ndarray

    @classmethod
    def check(cls, tilt_series, angles, k) -> _HoldOut:
        """Check the arguments (``ValueError`` naming the problem) and split."""
        data = np.asarray(tilt_series)
        angles = np.asarray(angles, dtype=np.float64)
        if data.ndim not in (2, 3):
            raise ValueError(f"tilt_series must be a sinogram or a tilt series, got shape {data.shape}")
        if angles.ndim != 1 or angles.size != data.shape[0]:
            raise ValueError(f"got {angles.size} angles for {data.shape[0]} projections")
        if isinstance(k, bool) or int(k) != k or k < 2:
            raise ValueError(f"k must be an integer of at least 2, got {k!r}")
        held = held_out_projections(angles, int(k))
        kept = np.setdiff1d(np.arange(angles.size), held)
        if held.size < 2 or kept.size < 2:
            raise ValueError(f"holding out every {k}-th of {angles.size} projections leaves too few to score")
        return cls(data, angles, held, kept)

    def score(self, *, tilt_axis: str, device, **reconstruct_options) -> float:
        """NCC of the held-out projections with the reprojection of a reconstruction from the kept ones."""
        checked = make_plan(self.data[self.kept], self.angles[self.kept], tilt_axis=tilt_axis, device=device,
                       **reconstruct_options)
        if checked.lam == "auto":
            raise ValueError("lam='auto' would choose λ by this very hold-out; give a number")
        volume = solve_in_chunks(checked)
        predicted = project(volume, self.angles[self.held], tilt_axis=tilt_axis, device=device)
        return normalised_cross_correlation(predicted, self.data[self.held])


def cross_validate(
    tilt_series,
    angles,
    *,
    method: str = "tv",
    lams=None,
    n_iter: int | None = None,
    k: int = 4,
    tilt_axis: str = "y",
    device=None,
    **options,
) -> CrossValidation:
    """Choose λ for ``reconstruct(..., method=method)`` by hold-out cross-validation.

    Parameters
    ----------
    tilt_series : array-like
        A sinogram ``(n_angles, n_detector)`` or a tilt series ``(n_angles, rows, cols)``; not modified.
    angles : array-like of float
        Degrees, one per projection.
    method : str
        A reconstruction method that uses λ (``problems.tomography.METHODS``).
    lams : array-like of float or None
        Candidate λ values. None: 7 values spaced evenly in log over a factor ±30 around the
        method's default λ.
    n_iter : int or None
        Iterations of every reconstruction (None: the method's default).
    k : int
        Hold out every ``k``-th projection (in angle order); at least 2 are held out.
    tilt_axis : {"y", "x"}
        As for :func:`napari_invprob.reconstruct`.
    device : str, torch.device or None
        Where to compute.
    **options
        Passed on to :func:`napari_invprob.reconstruct`.

    Returns
    -------
    CrossValidation
        ``lams``, ``scores`` and ``best_lam``. ``reconstruct`` divides its data term by the number of
        angles, so a λ chosen on the kept projections carries over to the full series unchanged.
    """
    result = None
    for result in cross_validate_iter(
        tilt_series, angles, method=method, lams=lams, n_iter=n_iter, k=k, tilt_axis=tilt_axis, device=device, **options
    ):
        pass
    return result


def cross_validate_iter(
    tilt_series,
    angles,
    *,
    method: str = "tv",
    lams=None,
    n_iter: int | None = None,
    k: int = 4,
    tilt_axis: str = "y",
    device=None,
    **options,
) -> Iterator[CrossValidation]:
    """Like :func:`cross_validate`, yielding the results so far after each λ (for progress and Stop)."""
    split = _HoldOut.check(tilt_series, angles, k)
    spec = method_spec(METHODS, method, "reconstruction")
    if not spec.auto_lam:
        raise ValueError(f"method {method!r} has no regularisation weight λ to choose")
    lams = spec.default_lam * _DEFAULT_SPAN if lams is None else np.asarray(lams, dtype=np.float64).ravel()
    if lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0):
        raise ValueError(f"lams must be finite non-negative numbers, got {lams}")
    scores = []
    for lam in lams:
        scores.append(split.score(method=method, lam=float(lam), n_iter=n_iter, tilt_axis=tilt_axis, device=device,
                                  **options))
        tried = lams[: len(scores)]
        yield CrossValidation(tried.copy(), np.asarray(scores), float(tried[int(np.argmax(scores))]), split.held)
