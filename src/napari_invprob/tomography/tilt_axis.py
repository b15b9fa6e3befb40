"""The tilt axis's direction in the projections, from their common line (:func:`estimate_tilt_axis`).

Summing a projection across the tilt axis gives the specimen's projection onto the axis: the same
profile from every tilt (the common line of the Fourier slice theorem, with all its signal). A drift
only shifts that profile along the axis, whatever its direction; so each candidate direction ψ is
scored by how much the profiles differ **after each one's best shift** against their mean: the
estimate cannot move with drift, and a specimen off the image centre only shifts its profiles too.

The profiles are made so that the pixel grid cannot pull the estimate (a sharp edge sampled on it
would otherwise favour the grid's directions): pixel centres are spread linearly into bins of a
quarter pixel and each pixel's exact footprint on the candidate line (a square's projection, a box
``|cos ψ|`` wide convolved with one ``|sin ψ|`` wide) is applied in the Fourier domain. Each
projection's constant background is removed and only its specimen (a dilated mask of where the
smoothed projection stands out of the noise) is summed, so that the vacuum adds no noise. The
profiles are compared below a Gaussian roll-off (:data:`LOW_PASS`).

The search runs coarse to fine: every 1.5° on the series binned to 64 pixels, then ±2° every
0.25° at 128 pixels, then ±0.6° every 0.1° at up to ``max_size`` pixels with a parabola through the
least score. How sure the estimate is (:attr:`TiltAxisEstimate.uncertainty`) comes two ways, the
larger kept: halves of the series (the negative against the positive tilts, the even against the odd
projections) each give their own minimum, half their distance; and the range of directions within
which the misfit beyond the noise (the noise's own share measured from the checkerboard halves of
every projection) stays below three times its least value, a quarter of its width. That range is
wide for a specimen whose profiles hardly depend on the axis (a box, whose sharp edges sampled at
different sub-pixel drifts differ more than a small turn of the axis changes them); the estimate is
then its middle. An axis within ``max(ON_GRID_DEGREES, 2 × uncertainty)`` of an image axis is *on
the grid*: the estimate cannot tell it from the grid, and nothing should be rotated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .preparation import estimate_background
from .preprocessing import _stack, bin_series

#: Axes closer to an image axis than this (degrees), or than twice their uncertainty, are on the grid.
ON_GRID_DEGREES = 0.5
#: Cycles per pixel: the Gaussian roll-off σ of the profiles compared.
LOW_PASS = 0.15
#: The least uncertainty reported (degrees): the finest step's resolution.
MIN_UNCERTAINTY = 0.05
_BIN = 0.25  # profile bins, pixels
# (size in pixels the series is binned to, half span, step) in degrees; the last size is max_size
_STAGES = ((64, None, 1.5), (128, 2.0, 0.25), (None, 0.6, 0.1))
_MAX_RECENTRE = 4  # fine scans moved when their least score lies at an end
_NEWTON_STEPS = 3  # per registration round
_RANGE_STEP, _RANGE_LIMIT = 0.2, 5.0  # degrees: how the range of indistinct axes is searched
_RANGE_RISE = 3.0  # the range ends where the misfit beyond the noise is this many times the least


@dataclass(frozen=True)
class TiltAxisEstimate:
    """What :func:`estimate_tilt_axis_with_uncertainty` found.

    Attributes
    ----------
    angle : float
        ψ in degrees in [-90, 90): the tilt axis runs along the image's y axis (rows) for ψ = 0 and
        along its x axis for ψ = ±90; positive ψ turns it from +y towards +x.
    uncertainty : float
        Degrees: the larger of half the distance between the minima that halves of the series give
        and a quarter of the range of directions the profiles cannot tell apart (module notes), at
        least :data:`MIN_UNCERTAINTY`.
    grid_axis : str
        ``"y"`` or ``"x"``: the image axis nearest the tilt axis.
    off_grid : float
        Signed degrees from ``grid_axis`` to the tilt axis, in [-45, 45).
    """

    angle: float
    uncertainty: float
    grid_axis: str
    off_grid: float

    @property
    def on_grid(self) -> bool:
        """True when the axis cannot be told from the grid axis: within ``max(ON_GRID_DEGREES,
        2 × uncertainty)`` of it. Rotate the projections only when this is False."""
        return abs(self.off_grid) <= max(ON_GRID_DEGREES, 2.0 * self.uncertainty)

    def summary(self) -> str:
        """One line, e.g. ``"ψ = 88.0° ± 0.1° (x axis, 2.0° off the grid)"`` or ``"... (on the x grid)"``."""
        where = (f"on the {self.grid_axis} grid" if self.on_grid
                 else f"{self.grid_axis} axis, {abs(self.off_grid):.1f}° off the grid")
        return f"ψ = {self.angle:.1f}° ± {self.uncertainty:.1f}° ({where})"


def estimate_tilt_axis(tilt_series, *, max_size: int = 256) -> float:
    """Estimate the direction of the tilt axis in the projections from their common line.

    The direction ψ along which the projections' profiles (each projection summed across ψ) agree
    best after each profile's best shift: see the module notes. Drift, a specimen off the image
    centre and straight edges do not move it. :func:`estimate_tilt_axis_with_uncertainty` says how
    sure it is, and whether it can be told from the grid.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        At least 3 projections over a range of tilts.
    max_size : int
        The finest search bins the projections to at most this many pixels across (speed).

    Returns
    -------
    float
        ψ in degrees in [-90, 90): the tilt axis runs along the image's y axis (rows) for ψ = 0 and
        along its x axis for ψ = ±90; positive ψ turns it from +y towards +x.
    """
    return estimate_tilt_axis_with_uncertainty(tilt_series, max_size=max_size).angle


def estimate_tilt_axis_with_uncertainty(tilt_series, *, angles=None, max_size: int = 256) -> TiltAxisEstimate:
    """Estimate the tilt axis's direction, how sure that is, and whether it is off the image grid.

    Parameters
    ----------
    tilt_series : array-like, shape (n_angles, rows, cols)
        At least 3 projections over a range of tilts; not modified.
    angles : array-like of float or None
        Tilt angles in degrees, to split the series into its negative and positive tilts for the
        uncertainty; None splits it in file order.
    max_size : int
        The finest search bins the projections to at most this many pixels across (at least 16).

    Returns
    -------
    TiltAxisEstimate
        ψ, its uncertainty, the nearest image axis and the angle from it (see :attr:`~TiltAxisEstimate.on_grid`).
    """
    data = _stack(tilt_series)
    if data.shape[0] < 3:
        raise ValueError("need at least 3 projections to estimate the tilt axis")
    if isinstance(max_size, bool) or int(max_size) != max_size or max_size < 16:
        raise ValueError(f"max_size must be an integer of at least 16, got {max_size!r}")
    order = np.arange(data.shape[0])
    if angles is not None:
        angles = np.asarray(angles, dtype=np.float64)
        if angles.shape != (data.shape[0],) or not np.all(np.isfinite(angles)):
            raise ValueError(f"angles must be {data.shape[0]} finite tilt angles, got shape {angles.shape}")
        order = np.argsort(angles, kind="stable")
    data -= estimate_background(data)[:, None, None].astype(np.float32)
    data *= _specimen_support(data)

    best = None
    for size, span, step in _STAGES:
        profiles = _Profiles(_binned(data, int(max_size) if size is None else min(size, int(max_size))))
        if span is None:
            candidates = np.arange(-90.0, 90.0, step)
            best = float(candidates[int(np.argmin([profiles.misfits(psi).mean() for psi in candidates]))])
            continue
        for _ in range(_MAX_RECENTRE):
            candidates = best + np.arange(-span, span + step / 2, step)
            misfits = np.array([profiles.misfits(psi) for psi in candidates])  # (candidates, projections)
            least = int(np.argmin(misfits.mean(axis=1)))
            best = float(candidates[least])
            if 0 < least < candidates.size - 1:
                break
    psi = _parabola_minimum(candidates, misfits.mean(axis=1))
    half = order.size // 2
    splits = ((order[:half], order[half:]), (order[0::2], order[1::2]))
    spreads = [abs(_parabola_minimum(candidates, misfits[:, a].mean(axis=1))
                   - _parabola_minimum(candidates, misfits[:, b].mean(axis=1))) / 2 for a, b in splits]
    below, above = _indistinct_range(profiles, psi)
    if below + above > 2.0 * ON_GRID_DEGREES:  # a wide valley: its middle, not one of its dips
        psi += (above - below) / 2
    return _estimate(psi, max(*spreads, (below + above) / 4, MIN_UNCERTAINTY))


def _indistinct_range(profiles: _Profiles, psi: float) -> tuple[float, float]:
    """Degrees below and above ψ to where the misfit beyond the noise triples (at most
    :data:`_RANGE_LIMIT`): within them the profiles cannot tell the axis apart. Wide for a specimen
    whose profiles hardly depend on the axis, e.g. a box, whose sharp edges sampled at different
    sub-pixel drifts differ more than the axis moves them (its misfit then dips on both sides of
    the axis, and the range is about centred on it)."""
    floor = profiles.noise_floor(psi)
    excess = max(float(profiles.misfits(psi).mean()) - floor, 1e-12)
    reach = []
    for sign in (-1.0, 1.0):
        offset = _RANGE_STEP
        while offset < _RANGE_LIMIT and profiles.misfits(psi + sign * offset).mean() - floor < _RANGE_RISE * excess:
            offset += _RANGE_STEP
        reach.append(min(offset, _RANGE_LIMIT))
    return reach[0], reach[1]


def given_tilt_axis(angle: float, uncertainty: float = 0.0) -> TiltAxisEstimate:
    """A :class:`TiltAxisEstimate` for a tilt-axis direction ψ (degrees) known from elsewhere."""
    return _estimate(float(angle), float(uncertainty))


def _estimate(psi: float, uncertainty: float) -> TiltAxisEstimate:
    psi = wrap_axis_angle(psi)
    grid = "y" if abs(psi) < 45.0 else "x"
    return TiltAxisEstimate(psi, float(uncertainty), grid, wrap_axis_angle(psi - (0.0 if grid == "y" else 90.0)))


def wrap_axis_angle(angle: float) -> float:
    """An axis direction in degrees (a line: ψ and ψ + 180 are one axis), in [-90, 90)."""
    return float((angle + 90.0) % 180.0 - 90.0)


def choose_tilt_axis(tilt_series) -> str:
    """``"y"`` or ``"x"``: the image axis nearest the tilt axis :func:`estimate_tilt_axis` finds."""
    return "y" if abs(estimate_tilt_axis(tilt_series)) < 45.0 else "x"


def _binned(data: np.ndarray, size: int) -> np.ndarray:
    factor = max(1, int(np.ceil(max(data.shape[1:]) / size)))
    return bin_series(data, factor) if factor > 1 else data


def _specimen_support(data: np.ndarray) -> np.ndarray:
    """Where each background-free projection holds its specimen: the smoothed projection beyond 4
    robust standard deviations of its noise, dilated by 4 pixels (float32 0/1)."""
    support = np.empty(data.shape, dtype=np.float32)
    for out, projection in zip(support, data):
        smooth = ndimage.gaussian_filter(projection, 2.0)
        noise = 1.4826 * np.median(np.abs(smooth - np.median(smooth)))
        out[...] = ndimage.binary_dilation(np.abs(smooth) > 4.0 * noise, iterations=4) if noise > 0 else 1.0
    return support


def _parabola_minimum(x: np.ndarray, y: np.ndarray) -> float:
    """The minimum of ``y`` on the even grid ``x``, refined by a parabola through it and its neighbours."""
    i = int(np.argmin(y))
    if 0 < i < y.size - 1:
        curvature = y[i - 1] - 2.0 * y[i] + y[i + 1]
        if curvature > 0:
            return float(x[i] + 0.5 * (y[i - 1] - y[i + 1]) / curvature * (x[1] - x[0]))
    return float(x[i])


class _Profiles:
    """The projections' profiles along candidate axes, and how much each differs from their mean
    after its best shift (see the module notes)."""

    def __init__(self, data: np.ndarray):
        n, rows, cols = data.shape
        self.n = n
        self.values = data.reshape(n, -1).astype(np.float64)
        r, c = np.meshgrid(np.arange(rows) - rows / 2 + 0.5, np.arange(cols) - cols / 2 + 0.5, indexing="ij")
        self.r, self.c = r.ravel() / _BIN, c.ravel() / _BIN
        self.checker = ((np.add.outer(np.arange(rows), np.arange(cols)) % 2).ravel()).astype(np.float64)
        self.length = int(np.ceil(np.hypot(rows, cols) / _BIN)) + 4
        self.padded = 2 * self.length
        freq = np.fft.rfftfreq(self.padded, d=_BIN)  # cycles per pixel
        self.freq = freq[freq <= 4.0 * LOW_PASS]
        self.weight = np.exp(-0.5 * (self.freq / LOW_PASS) ** 2)

    def spectra(self, psi: float) -> np.ndarray:
        """``(n, frequencies)``: the profiles' spectra along ψ, with exact pixel footprints, unit weighted norm."""
        spectra = self._spectra(psi, self.values)
        return spectra / self._norms(spectra)

    def noise_floor(self, psi: float) -> float:
        """The mean misfit that the noise alone gives at ψ: the profiles of the two checkerboard halves of
        each projection carry the same signal and independent noise, so their difference has the noise
        of the whole profile."""
        even = self._spectra(psi, self.values * self.checker)
        odd = self._spectra(psi, self.values * (1.0 - self.checker))
        noise = (np.abs(even - odd) ** 2 * self.weight).sum(axis=1) / np.square(self._norms(even + odd)[:, 0])
        return float(noise.mean() * (1.0 - 1.0 / self.n))

    def _norms(self, spectra: np.ndarray) -> np.ndarray:
        norms = np.sqrt((np.abs(spectra) ** 2 * self.weight).sum(axis=1, keepdims=True))
        return np.where(norms > 0, norms, 1.0)

    def _spectra(self, psi: float, values: np.ndarray) -> np.ndarray:
        cos, sin = np.cos(np.radians(psi)), np.sin(np.radians(psi))
        t = self.r * cos + self.c * sin + self.length / 2
        lower = np.floor(t).astype(np.intp)
        upper_weight = t - lower
        index = lower[None, :] + (np.arange(self.n) * self.length)[:, None]
        profiles = np.bincount(index.ravel(), (values * (1.0 - upper_weight)).ravel(), self.n * self.length)
        profiles += np.bincount((index + 1).ravel(), (values * upper_weight).ravel(), self.n * self.length)
        spectra = np.fft.rfft(profiles.reshape(self.n, self.length), self.padded, axis=1)[:, : self.freq.size]
        return spectra * (np.sinc(self.freq * abs(cos)) * np.sinc(self.freq * abs(sin)))

    def misfits(self, psi: float, rounds: int = 3) -> np.ndarray:
        """``(n,)``: each profile's weighted squared distance to the mean of the shifted profiles.

        Each round registers every profile to the current mean: the peak of their cross-correlation,
        then Newton steps on the weighted overlap ``Σ w Re(S M* exp(iωs))``, so the shifts are exact to
        far below a pixel (a sharp-edged specimen leaves no misfit from misregistration)."""
        spectra = self.spectra(psi)
        omega = 2.0 * np.pi * self.freq
        samples = 4 * self.freq.size  # the cross-correlation's samples over one period
        spacing = 1.0 / (samples * self.freq[1])  # pixels between them
        shifts = np.zeros(self.n)
        for round_ in range(rounds):
            mean = (spectra * np.exp(1j * omega * shifts[:, None])).mean(axis=0)
            cross = spectra * np.conj(mean) * self.weight
            if round_ == 0:
                peak = np.argmax(np.fft.irfft(cross, samples, axis=1), axis=1)
                shifts = np.where(peak > samples / 2, peak - samples, peak) * spacing
            for _ in range(_NEWTON_STEPS):
                turned = cross * np.exp(1j * omega * shifts[:, None])
                slope = -(omega * turned.imag).sum(axis=1)
                curvature = -(omega**2 * turned.real).sum(axis=1)
                shifts = shifts - np.where(curvature < 0, slope / np.where(curvature < 0, curvature, -1.0), 0.0)
        aligned = spectra * np.exp(1j * omega * shifts[:, None])
        return (np.abs(aligned - aligned.mean(axis=0)) ** 2 * self.weight).sum(axis=1)
