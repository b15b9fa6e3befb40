"""Aligning the projections of a tilt series (removing stage drift).

Three stages, each usable on its own:

1. :func:`cross_correlation_shifts`: each projection is registered to its already aligned neighbour
   nearer 0°, chained outwards from the projection nearest 0°. Both images are tapered (Tukey
   window), band-pass filtered (a Gaussian high-pass removes slow intensity gradients, a Gaussian
   roll-off removes noise), and the neighbour is cosine-stretched perpendicular to the tilt axis by
   ``cos θ_moving / cos θ_neighbour`` (what a flat specimen does when tilted). The peak of the
   cross-correlation is located to a fraction of a pixel by a parabola through it in each axis.
2. :func:`centre_tilt_axis`: the chain fixes every shift relative to the 0° projection only. The
   centre of mass of a projection along the axis perpendicular to the tilt axis follows
   ``a + X cos θ + Z sin θ`` for an object rotating about an axis ``a`` pixels off the image centre;
   fitting that curve and removing ``a`` puts the tilt axis on the rotation centre the
   reconstruction uses (pixel ``n // 2``).
3. :func:`projection_matching_shifts`: reconstruct (SIRT, non-negative) from the aligned series,
   reproject at the measured angles with :func:`napari_invprob.project`, register every projection
   to its reprojection, update the shifts, repeat. This uses the whole 3D consistency of the series,
   so it corrects the errors that the neighbour-to-neighbour chain accumulates and its parallax from
   thick specimens.

Before these stages the projections are made line integrals (:mod:`napari_invprob.preparation`:
storage offset, bright-field ``−log``, each projection's constant background) and, when the tilt axis
is a little off the image grid, rotated onto it (its direction estimated from the common line,
:func:`napari_invprob.tomography.tilt_axis.estimate_tilt_axis`, or given), as IMOD and etspy do.

Shifts are ``(n_angles, 2)`` arrays ``(d_rows, d_cols)`` in pixels of the rotated projections: the drift
found in each; the aligned series is the prepared input rotated and moved by ``−shifts``
(:func:`apply_shifts`, :func:`apply_alignment`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage

from ..problems.methods import check_n_iter
from .geometry import check_tilt_axis
from .preparation import Preparation, resolve_preparation
from .preprocessing import bin_series
from .tilt_axis import (
    TiltAxisEstimate,
    estimate_tilt_axis_with_uncertainty,
    given_tilt_axis,
    wrap_axis_angle,
)

METHODS = ("projection-matching", "cross-correlation")
_TAPER = 0.2  # fraction of each edge rolled off by the Tukey window
_HIGH_PASS = 0.02  # cycles/pixel: Gaussian high-pass σ
_LOW_PASS = 0.25  # cycles/pixel: start of the Gaussian roll-off
_ROLL_OFF = 0.06  # cycles/pixel: roll-off σ
_SIRT_ITERATIONS = 30  # per projection-matching round: smooth enough to average out misalignment
#: Projection matching works on the series binned by 2 when it stays at least this large (pixels).
MATCHING_MIN_SIZE = 128


@dataclass(frozen=True)
class AlignmentStep:
    """Progress of :func:`align_iter`.

    Attributes
    ----------
    stage : str
        ``"cross-correlation"`` or ``"projection-matching"``.
    iteration : int
        1 for the cross-correlation stage; the projection-matching round otherwise.
    shifts : numpy.ndarray
        The current ``(n_angles, 2)`` shifts ``(d_rows, d_cols)`` in pixels of the input images.
    change : float
        RMS change of the shifts in this step (pixels).
    rotation : float
        Degrees the projections are rotated by (about pixel ``(rows // 2, cols // 2)``, turning +y
        towards +x) before the shifts, to put the tilt axis on the grid; 0 when they are not.
    preparation : Preparation or None
        How the projections were made line integrals (:mod:`napari_invprob.preparation`).
    axis_estimates : tuple of TiltAxisEstimate
        The tilt axis in the input images: ``(as given,)`` for a given ``tilt_axis_angle``; for
        ``"auto"``, ``(estimated on the drifting series, estimated again after the drift was
        removed)``, the second deciding the rotation; ``()`` for None.
    """

    stage: str
    iteration: int
    shifts: np.ndarray
    change: float
    rotation: float = 0.0
    preparation: Preparation | None = None
    axis_estimates: tuple[TiltAxisEstimate, ...] = ()

    def describe_axis(self) -> str:
        """One line on the tilt axis and the rotation, e.g. ``"tilt axis ψ = 82.5° ± 0.3° (...) with the
        drift, ψ = 89.6° ± 0.1° (on the x grid) without it: not rotated"``."""
        if not self.axis_estimates:
            return "tilt axis not estimated: not rotated"
        if len(self.axis_estimates) == 1:
            line = f"tilt axis {self.axis_estimates[0].summary()} (given)"
        else:
            drifting, corrected = self.axis_estimates
            line = f"tilt axis {drifting.summary()} with the drift, {corrected.summary()} without it"
        rotated = f"rotated {self.rotation:.2f}° onto the grid" if self.rotation else "not rotated"
        return f"{line}: {rotated}"


def align(
    tilt_series,
    angles,
    *,
    tilt_axis: str = "y",
    tilt_axis_angle="auto",
    background="auto",
    contrast: str = "auto",
    method: str = "projection-matching",
    n_iter: int | None = None,
    max_shift: float | None = None,
    centre: bool = True,
    max_size: int = 512,
    device=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Align a tilt series: make the projections line integrals, put the tilt axis on the grid, find
    the drift of every projection and remove it.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        The projections; not modified.
    angles : array-like of float
        Tilt angle of each projection, degrees, any order.
    tilt_axis : {"y", "x"}
        The image axis the tilt axis runs along, or nearly (``TiltSeries.tilt_axis``).
    tilt_axis_angle : "auto", float or None
        The tilt axis's in-plane direction ψ in degrees (0 along y, ±90 along x, positive turning +y
        towards +x; ``TiltSeries.tilt_axis_angle``): the projections are rotated by its difference
        from ``tilt_axis`` so that the axis lies on the grid, when it is clearly off it
        (:attr:`~napari_invprob.tomography.tilt_axis.TiltAxisEstimate.on_grid` is False: more than 0.5°
        and than twice the estimate's uncertainty). ``"auto"`` estimates it from the projections' common
        line (:func:`~napari_invprob.tomography.tilt_axis.estimate_tilt_axis_with_uncertainty`), removes
        the drift, estimates it again on the corrected series and rotates by that second estimate (and
        warns, not rotating, when it points nearer the other axis); None does not rotate.
    background : "auto", "none", float or array-like
        Each projection's constant background, removed first (see
        :func:`napari_invprob.preparation.resolve_preparation`; ``"auto"``: estimated, removed when
        significant).
    contrast : {"auto", "dark-field", "bright-field"}
        Bright-field projections become ``−log(I / I0)``; ``"auto"`` detects it.
    method : {"projection-matching", "cross-correlation"}
        Cross-correlation alone, or followed by projection-matching refinement (default; slower,
        more accurate).
    n_iter : int or None
        Projection-matching rounds (default 5; it stops earlier once the shifts change by less than
        0.05 pixel RMS). Ignored for cross-correlation.
    max_shift : float or None
        Largest drift between neighbouring projections searched, in pixels (default: a quarter of
        the image size).
    centre : bool
        Put the tilt axis on the image centre (:func:`centre_tilt_axis`).
    max_size : int
        Both stages work on the series binned to at most this many pixels across (speed and memory
        for large projections), projection matching binned by 2 more when that keeps at least
        :data:`MATCHING_MIN_SIZE`; the shifts are returned in pixels of the input.
    device : str, torch.device or None
        Where projection matching reconstructs (see :func:`napari_invprob._shared.device.resolve_device`).

    Returns
    -------
    aligned : numpy.ndarray
        float32 line integrals, rotated and with the drifts removed (same shape as the input):
        :func:`apply_alignment` of the last step of :func:`align_iter`.
    shifts : numpy.ndarray
        ``(n_angles, 2)`` drifts ``(d_rows, d_cols)`` in pixels of the rotated projections.
    """
    step = None
    for step in align_iter(
        tilt_series, angles, tilt_axis=tilt_axis, tilt_axis_angle=tilt_axis_angle, background=background,
        contrast=contrast, method=method, n_iter=n_iter, max_shift=max_shift, centre=centre,
        max_size=max_size, device=device,
    ):
        pass
    return apply_alignment(tilt_series, step), step.shifts


def apply_alignment(tilt_series, step: AlignmentStep) -> np.ndarray:
    """The aligned series an :class:`AlignmentStep` describes: ``tilt_series`` prepared as
    ``step.preparation`` says, rotated by ``step.rotation`` and moved by ``−step.shifts``.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        The series given to :func:`align_iter`.
    step : AlignmentStep
        A step of :func:`align_iter` (usually the last).

    Returns
    -------
    numpy.ndarray
        A new float32 series.
    """
    prepared = tilt_series if step.preparation is None else step.preparation.apply(tilt_series)
    return apply_shifts(prepared, step.shifts, rotation=step.rotation)


def align_iter(
    tilt_series,
    angles,
    *,
    tilt_axis: str = "y",
    tilt_axis_angle="auto",
    background="auto",
    contrast: str = "auto",
    method: str = "projection-matching",
    n_iter: int | None = None,
    max_shift: float | None = None,
    centre: bool = True,
    max_size: int = 512,
    device=None,
) -> Iterator[AlignmentStep]:
    """Like :func:`align`, as a generator of :class:`AlignmentStep` (one per stage or round).

    The arguments are checked at the call, before any work; the work happens as the generator is
    consumed. A GUI can show progress and stop between steps; the last step's ``shifts`` are the
    result.
    """
    series, angles = _checked(tilt_series, angles, tilt_axis)
    if method not in METHODS:
        raise ValueError(f"unknown alignment method {method!r}; choose one of {', '.join(METHODS)}")
    # n_iter counts rounds of projection matching; the other methods have none
    n_iter = check_n_iter(n_iter, 5) if method == "projection-matching" else 5
    if max_shift is not None and not max_shift > 0:
        raise ValueError(f"max_shift must be positive, got {max_shift}")
    if isinstance(max_size, bool) or int(max_size) != max_size or max_size < 16:
        raise ValueError(f"max_size must be an integer of at least 16, got {max_size!r}")
    _check_axis_angle(tilt_axis_angle, tilt_axis)
    preparation = resolve_preparation(series, contrast=contrast, background=background)
    return _align_steps(series, angles, tilt_axis, tilt_axis_angle, preparation, method, n_iter, max_shift,
                        centre, int(max_size), device)


def _check_axis_angle(tilt_axis_angle, tilt_axis: str) -> None:
    if tilt_axis_angle is None or (isinstance(tilt_axis_angle, str) and tilt_axis_angle == "auto"):
        return
    if isinstance(tilt_axis_angle, bool) or not isinstance(tilt_axis_angle, (int, float, np.integer, np.floating)) \
            or not np.isfinite(tilt_axis_angle):
        raise ValueError(f"tilt_axis_angle must be 'auto', None or an angle in degrees, got {tilt_axis_angle!r}")
    if _nearest_axis(float(tilt_axis_angle)) != tilt_axis:
        raise ValueError(
            f"tilt_axis_angle {tilt_axis_angle:g}° runs nearer {_nearest_axis(float(tilt_axis_angle))} than "
            f"tilt_axis={tilt_axis!r}: give the axis it is near"
        )


def _nearest_axis(psi: float) -> str:
    return "y" if abs(wrap_axis_angle(psi)) < 45.0 else "x"


def _off_grid(psi: float, tilt_axis: str) -> float:
    """Degrees from the grid axis ``tilt_axis`` to the direction ψ, in [-90, 90)."""
    grid = 0.0 if tilt_axis == "y" else 90.0
    return wrap_axis_angle(psi - grid)


def tilt_axis_rotation(estimate: TiltAxisEstimate | None, tilt_axis: str) -> float:
    """Degrees to rotate the projections by so that their tilt axis lies along ``tilt_axis``.

    Parameters
    ----------
    estimate : TiltAxisEstimate or None
        The tilt axis (None: not rotated).
    tilt_axis : {"y", "x"}

    Returns
    -------
    float
        The rotation: 0.0 for None, for an axis on the grid (:attr:`TiltAxisEstimate.on_grid`), or for
        one nearer the other image axis (with a warning).
    """
    if estimate is None or estimate.on_grid:
        return 0.0
    if estimate.grid_axis != tilt_axis:
        warnings.warn(
            f"the projections' common line puts the tilt axis along {estimate.grid_axis} ({estimate.angle:.1f}°), but "
            f"tilt_axis={tilt_axis!r} was given: pass tilt_axis={estimate.grid_axis!r} if the estimate is right; "
            "the projections are not rotated",
            UserWarning,
            stacklevel=4,
        )
        return 0.0
    return _off_grid(estimate.angle, tilt_axis)


def _align_steps(series, angles, tilt_axis, tilt_axis_angle, preparation, method, n_iter, max_shift, centre,
                 max_size, device):
    prepared = preparation.apply(series)
    del series
    if tilt_axis_angle is None:
        estimates = ()
    elif isinstance(tilt_axis_angle, str):
        estimates = (estimate_tilt_axis_with_uncertainty(prepared, angles=angles),)
    else:
        estimates = (given_tilt_axis(float(tilt_axis_angle)),)
    rotation = tilt_axis_rotation(estimates[0] if estimates else None, tilt_axis)
    factor = max(1, int(np.ceil(max(prepared.shape[1:]) / max_size)))

    def in_image_pixels(shifts_tilt_y: np.ndarray) -> np.ndarray:
        shifts_tilt_y = shifts_tilt_y * factor
        return shifts_tilt_y[:, ::-1].copy() if tilt_axis == "x" else shifts_tilt_y

    work, shifts = _coarse_alignment(prepared, angles, tilt_axis, rotation, factor, max_shift, centre)
    if isinstance(tilt_axis_angle, str):
        # the drift removed, the axis estimated again: the drifts carried back into the input's frame and
        # removed in whole pixels, so that the noise stays as it was (independent from pixel to pixel)
        turn = np.radians(rotation)
        drifts = in_image_pixels(shifts) @ np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]).T
        corrected = estimate_tilt_axis_with_uncertainty(_moved_back(prepared, drifts), angles=angles)
        estimates = (*estimates, corrected)
        again = tilt_axis_rotation(corrected, tilt_axis)
        if again != rotation:  # rotated by the second estimate: the drift measured again in its frame
            rotation = again
            work, shifts = _coarse_alignment(prepared, angles, tilt_axis, rotation, factor, max_shift, centre)
    del prepared

    yield AlignmentStep("cross-correlation", 1, in_image_pixels(shifts), factor * float(np.sqrt(np.mean(shifts**2))),
                        rotation, preparation, estimates)
    if method == "cross-correlation":
        return
    # projection matching reconstructs the whole volume every round: at half resolution when that
    # keeps MATCHING_MIN_SIZE pixels (77x256x256, ±76°: 3.6 s instead of 44 s, held-out misfit 3.04e-3
    # instead of 3.07e-3; the sub-pixel registration keeps the precision)
    halve = max(work.shape[1:]) >= 2 * MATCHING_MIN_SIZE
    if halve:
        work, shifts, factor = bin_series(work, 2), shifts / 2, factor * 2
    rounds = _projection_matching_rounds(work, angles, shifts, n_iter=n_iter, device=device)
    for round_, (shifts, change) in enumerate(rounds, start=1):
        yield AlignmentStep("projection-matching", round_, in_image_pixels(shifts), factor * change, rotation,
                            preparation, estimates)


def _moved_back(series: np.ndarray, drifts: np.ndarray) -> np.ndarray:
    """Each projection moved by ``−drifts[i]`` rounded to whole pixels, the uncovered edge zero."""
    moved = np.zeros(series.shape, dtype=np.float32)
    rows, cols = series.shape[1:]
    for out, projection, (dr, dc) in zip(moved, series, np.rint(drifts).astype(np.intp)):
        r0, r1, c0, c1 = max(0, -dr), rows - max(0, dr), max(0, -dc), cols - max(0, dc)
        if r0 < r1 and c0 < c1:
            out[r0:r1, c0:c1] = projection[r0 + dr : r1 + dr, c0 + dc : c1 + dc]
    return moved


def _coarse_alignment(prepared, angles, tilt_axis, rotation, factor, max_shift, centre):
    """The prepared series rotated, turned so its tilt axis runs along y and binned by ``factor``, and its
    cross-correlation shifts (the tilt axis centred when ``centre``), in those binned pixels."""
    series = apply_shifts(prepared, np.zeros((prepared.shape[0], 2)), rotation=rotation) if rotation else prepared
    if tilt_axis == "x":
        series = series.transpose(0, 2, 1)
    work = bin_series(series, factor) if factor > 1 else series
    shifts = cross_correlation_shifts(work, angles, max_shift=None if max_shift is None else max_shift / factor)
    if centre:
        shifts = centre_tilt_axis(work, angles, shifts)
    return work, shifts


def _checked(tilt_series, angles, tilt_axis: str) -> tuple[np.ndarray, np.ndarray]:
    series = np.asarray(tilt_series)
    if series.dtype.kind not in "biuf":
        raise TypeError(f"tilt_series must be real numbers, got dtype {series.dtype}")
    if series.ndim != 3:
        raise ValueError(f"tilt_series must be (n_angles, rows, cols), got shape {series.shape}")
    if min(series.shape[1:]) < 8:
        raise ValueError(f"projections of {series.shape[1:]} pixels are too small to align")
    angles = np.asarray(angles, dtype=np.float64)
    if angles.ndim != 1 or angles.size != series.shape[0]:
        raise ValueError(f"got {angles.size} angles for {series.shape[0]} projections")
    if series.shape[0] < 2:
        raise ValueError("need at least 2 projections to align")
    if not np.all(np.isfinite(angles)) or np.any(np.abs(angles) >= 90):
        raise ValueError("angles must be finite tilts strictly between -90 and 90 degrees")
    check_tilt_axis(tilt_axis)
    if series.dtype.kind == "f" and not all(np.isfinite(p).all() for p in series):
        raise ValueError("tilt_series contains NaN or Inf values")
    return series, angles  # not converted: large integer stacks are converted one projection at a time


def apply_shifts(tilt_series, shifts, *, rotation: float = 0.0, order: int = 3) -> np.ndarray:
    """Rotate every projection by ``rotation`` and move it by ``−shifts[i]``, in one interpolation
    (cubic spline, edges extended).

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
    shifts : array-like, shape (n_angles, 2)
        Drifts ``(d_rows, d_cols)`` in pixels of the rotated projections, as :func:`align` returns.
    rotation : float
        Degrees, about pixel ``(rows // 2, cols // 2)``: the image content turns from +y towards −x, so
        that a tilt axis at ψ = ``rotation`` (see :func:`align`) comes to lie along y (or one at
        ``90 + rotation`` along x).
    order : int
        Spline order of the interpolation.

    Returns
    -------
    numpy.ndarray
        A new float32 series.
    """
    series = np.asarray(tilt_series)
    shifts = np.asarray(shifts, dtype=np.float64)
    if series.ndim != 3 or shifts.shape != (series.shape[0], 2):
        raise ValueError(f"need shifts of shape ({series.shape[0]}, 2) for a series {series.shape}, got {shifts.shape}")
    if not np.isfinite(rotation):
        raise ValueError(f"rotation must be a finite angle in degrees, got {rotation}")
    aligned = np.empty(series.shape, dtype=np.float32)
    centre = np.array([series.shape[1] // 2, series.shape[2] // 2], dtype=np.float64)
    turn = np.radians(rotation)
    # output pixel p samples the input at c + R (p + s − c), R turning the grid axis onto the tilt axis
    matrix = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    for projection, shift, out in zip(series, shifts, aligned):
        projection = projection.astype(np.float32)
        if rotation == 0.0:
            ndimage.shift(projection, -shift, output=out, order=order, mode="nearest")
        else:
            offset = centre + matrix @ (shift - centre)
            ndimage.affine_transform(projection, matrix, offset=offset, output=out, order=order, mode="nearest")
    return aligned


class _Registration:
    """Sub-pixel translation between two images of one size, after taper and band-pass filtering."""

    def __init__(self, shape: tuple[int, int], max_shift: float | None):
        self.shape = shape
        self.window = tukey_window(shape, _TAPER)
        ky = fft.fftfreq(shape[0])[:, None]
        kx = fft.rfftfreq(shape[1])[None, :]
        k = np.hypot(ky, kx)
        high = 1.0 - np.exp(-(k**2) / (2 * _HIGH_PASS**2))
        low = np.where(k > _LOW_PASS, np.exp(-((k - _LOW_PASS) ** 2) / (2 * _ROLL_OFF**2)), 1.0)
        self.filter = (high * low).astype(np.float32)
        limit = max(shape) / 4 if max_shift is None else max_shift
        dy = fft.fftfreq(shape[0], 1 / shape[0])[:, None]
        dx = fft.fftfreq(shape[1], 1 / shape[1])[None, :]
        self.search = (np.abs(dy) <= limit) & (np.abs(dx) <= limit)

    def spectrum(self, image: np.ndarray) -> np.ndarray:
        image = image - image.mean()
        return fft.rfft2(image * self.window) * self.filter

    def shift(self, reference: np.ndarray, moving: np.ndarray, *, refinements: int = 2) -> np.ndarray:
        """``(dy, dx)`` such that ``moving(r) ≈ reference(r − (dy, dx))``.

        The peak estimate is refined by moving ``moving`` back by it and registering again (up to
        ``refinements`` times): at the fixed point the two images overlap under the window and the
        parabola is fitted at a centred peak, which removes both biases towards smaller shifts.
        """
        reference_spectrum = np.conj(self.spectrum(reference))
        estimate = self._peak(reference_spectrum, moving)
        for _ in range(refinements):
            moved = ndimage.shift(moving, -estimate, order=3, mode="nearest")
            residual = self._peak(reference_spectrum, moved)
            estimate = estimate + residual
            if np.max(np.abs(residual)) < 0.01:
                break
        return estimate

    def _peak(self, reference_spectrum: np.ndarray, moving: np.ndarray) -> np.ndarray:
        correlation = fft.irfft2(reference_spectrum * self.spectrum(moving), s=self.shape)
        correlation = np.where(self.search, correlation, -np.inf)
        peak = np.unravel_index(int(np.argmax(correlation)), self.shape)
        offset = np.zeros(2)
        for axis in range(2):
            before, after = list(peak), list(peak)
            before[axis] = (peak[axis] - 1) % self.shape[axis]
            after[axis] = (peak[axis] + 1) % self.shape[axis]
            c_minus, c_0, c_plus = correlation[tuple(before)], correlation[peak], correlation[tuple(after)]
            curvature = c_minus - 2 * c_0 + c_plus
            if np.isfinite(curvature) and curvature < 0:
                offset[axis] = np.clip(0.5 * (c_minus - c_plus) / curvature, -0.5, 0.5)
        whole = np.array([(p + n // 2) % n - n // 2 for p, n in zip(peak, self.shape)], dtype=np.float64)
        return whole + offset


def _stretch_columns(image: np.ndarray, factor: float) -> np.ndarray:
    """Stretch an image by ``factor`` along its columns about the centre column ``cols // 2``."""
    if abs(factor - 1.0) < 1e-6:
        return image
    rows, cols = image.shape
    centre = cols // 2
    source_cols = centre + (np.arange(cols) - centre) / factor
    coords = np.meshgrid(np.arange(rows, dtype=np.float64), source_cols, indexing="ij")
    return ndimage.map_coordinates(image, coords, order=1, mode="nearest")


def cross_correlation_shifts(tilt_series, angles, *, max_shift: float | None = None) -> np.ndarray:
    """Drift of every projection from chained, cosine-stretched cross-correlation.

    The tilt axis runs along the image's y axis (rows); transpose the projections for an x axis.
    The projection nearest 0° keeps shift 0; every other one is registered to its aligned neighbour
    nearer 0° after that neighbour is stretched by ``cos θ / cos θ_neighbour`` along x.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
    angles : array-like of float
        Degrees, strictly between -90 and 90, any order.
    max_shift : float or None
        Largest drift between neighbours searched (pixels); default a quarter of the image size.

    Returns
    -------
    numpy.ndarray
        ``(n_angles, 2)`` drifts ``(d_rows, d_cols)`` in pixels.
    """
    series, angles = _checked(tilt_series, angles, "y")
    registration = _Registration(series.shape[1:], max_shift)
    order = np.argsort(angles, kind="stable")
    start = int(np.argmin(np.abs(angles[order])))
    shifts = np.zeros((series.shape[0], 2))
    cosines = np.cos(np.radians(angles))
    for path in (order[start:], order[start::-1]):
        reference = series[path[0]].astype(np.float32)
        for previous, current in zip(path[:-1], path[1:]):
            stretched = _stretch_columns(reference, cosines[current] / cosines[previous])
            moving = series[current].astype(np.float32)
            shifts[current] = registration.shift(stretched, moving)
            reference = ndimage.shift(moving, -shifts[current], order=3, mode="nearest")
    return shifts


def centre_tilt_axis(tilt_series, angles, shifts) -> np.ndarray:
    """Shift the drifts so that the tilt axis passes through the image centre (column ``cols // 2``).

    The centre of mass ``c(θ)`` (along x, of the background-subtracted aligned projections) of an
    object rotating about an axis ``a`` pixels right of the centre is ``a + X cos θ + Z sin θ``; a
    least-squares fit over the series gives ``a``, which is added to every column shift. Row shifts
    are set to have zero mean. Needs a tilt range wide enough for ``cos θ`` to differ from 1
    (about ±30° or more), and an object that stays in the field of view.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        The unaligned projections (tilt axis along y).
    angles : array-like of float
        Degrees.
    shifts : array-like, shape (n_angles, 2)
        Drifts from :func:`cross_correlation_shifts`.

    Returns
    -------
    numpy.ndarray
        New ``(n_angles, 2)`` drifts.
    """
    series, angles = _checked(tilt_series, angles, "y")
    shifts = np.array(shifts, dtype=np.float64)
    aligned = apply_shifts(series, shifts, order=1)
    profiles = aligned.sum(axis=1)
    profiles -= np.percentile(profiles, 5, axis=1, keepdims=True)
    np.maximum(profiles, 0, out=profiles)
    columns = np.arange(series.shape[2]) - series.shape[2] // 2
    mass = profiles.sum(axis=1)
    centres = (profiles * columns).sum(axis=1) / np.where(mass > 0, mass, 1.0)
    theta = np.radians(angles)
    design = np.stack([np.ones_like(theta), np.cos(theta), np.sin(theta)], axis=1)
    if np.linalg.cond(design) > 1e6:
        return shifts - [shifts[:, 0].mean(), 0.0]
    offset = np.linalg.lstsq(design, centres, rcond=None)[0][0]
    shifts[:, 1] += offset
    shifts[:, 0] -= shifts[:, 0].mean()
    return shifts


def projection_matching_shifts(
    tilt_series, angles, shifts, *, n_iter: int = 5, device=None
) -> np.ndarray:
    """Refine drifts by projection matching (tilt axis along y). See :func:`align` for the parameters.

    Returns
    -------
    numpy.ndarray
        The refined ``(n_angles, 2)`` drifts.
    """
    series, angles = _checked(tilt_series, angles, "y")
    shifts = np.asarray(shifts, dtype=np.float64)
    for shifts, _ in _projection_matching_rounds(series, angles, shifts, n_iter=n_iter, device=device):
        pass
    return shifts


def _reconstruct_and_reproject(series: np.ndarray, angles: np.ndarray, *, device) -> np.ndarray:
    """Non-negative SIRT reconstruction of a tilt series (tilt axis y), reprojected at its angles."""
    from .geometry import project
    from .reconstruct import reconstruct

    volume = reconstruct(series, angles, method="sirt", n_iter=_SIRT_ITERATIONS, tilt_axis="y", device=device)
    return project(volume, angles, tilt_axis="y", device=device)


def _projection_matching_rounds(series, angles, shifts, *, n_iter, device):
    """Yield ``(shifts, rms_change)`` after each round of reconstruct → reproject → re-register.

    Every round: ``x = SIRT⁺(apply_shifts(y, s))`` (:func:`napari_invprob.reconstruct`),
    ``p = project(x)``,
    ``δᵢ = register(pᵢ, alignedᵢ)``, then the part of ``δ`` that a rigid translation of the object
    explains (``dx cos θ − dz sin θ`` along x, a constant along y) is removed (it only moves the
    reconstruction) and ``s ← s + δ``.
    """
    registration = _Registration(series.shape[1:], max_shift=max(4.0, series.shape[2] / 8))
    theta = np.radians(angles)
    rigid = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    shifts = shifts.copy()
    for _ in range(n_iter):
        aligned = apply_shifts(series, shifts)
        reprojected = _reconstruct_and_reproject(aligned, angles, device=device)
        delta = np.stack([registration.shift(r, m) for r, m in zip(reprojected, aligned)])
        delta[:, 0] -= delta[:, 0].mean()
        delta[:, 1] -= rigid @ np.linalg.lstsq(rigid, delta[:, 1], rcond=None)[0]
        shifts += delta
        change = float(np.sqrt(np.mean(delta**2)))
        yield shifts.copy(), change
        if change < 0.05:
            return


def tukey_window(shape: tuple[int, int], fraction: float) -> np.ndarray:
    """Separable Tukey window: flat in the middle, cosine roll-off over ``fraction`` of each edge."""
    from scipy.signal.windows import tukey

    return np.outer(tukey(shape[0], fraction), tukey(shape[1], fraction)).astype(np.float32)
