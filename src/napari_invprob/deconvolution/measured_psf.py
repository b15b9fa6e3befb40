"""A measured PSF made fit for deconvolution: background, centre, crop, voxel size, in one step.

A bead stack sits on the camera's offset (often most of its sum), its bead is off-centre, its box is
larger than the PSF, and it is recorded at its own voxel size, rarely the data's. :func:`prepare_psf`
turns it into a kernel on the data's grid and says what it did; :func:`napari_invprob.deconvolve`, the
Deconvolution widget and the command line all call it, so a PSF array, layer or file is prepared the
same way everywhere. A theoretical PSF (ours, or any without a background) passes through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .background import estimate_background
from .bead import noise_sigma, one_bead

#: The choices of ``background`` besides a number: estimated (and removed when above the noise), or kept.
PSF_BACKGROUNDS = ("auto", "none")
#: A measured PSF is cropped to the smallest odd box around its centre holding this share of its energy.
ENERGY = 0.995
#: An estimated background is removed when it is above this many noise standard deviations ...
NOISE_FACTOR = 3.0
#: ... and above this share of the PSF's peak (a theoretical PSF's darkest corner is far below it).
MIN_BACKGROUND_FRACTION = 1e-3
#: The background is estimated only when the last two axes have at least this many pixels (three of the
#: estimate's 7-pixel boxes): in a smaller box every 7-pixel box holds some of the PSF's core. A smaller
#: PSF of integer counts (as a camera records them) whose lowest value is above MIN_BACKGROUND_FRACTION
#: of its peak gets a warning instead.
MIN_BACKGROUND_SIZE = 21


@dataclass(frozen=True)
class PSFPreparation:
    """What :func:`prepare_psf` did to a PSF.

    Attributes
    ----------
    steps : tuple of str
        Each step in words, in order (empty: the PSF passed through unchanged).
    background : float
        The level removed, in the PSF's units (0: none).
    shift : tuple of float or None
        Pixels the PSF was moved by to centre it (None: not moved).
    shape_in, shape_out : tuple of int
        The PSF's shape as given and as returned.
    voxel_size, psf_voxel_size : tuple of float or None
        The data's and the PSF's voxel sizes as given.
    """

    steps: tuple[str, ...] = ()
    background: float = 0.0
    shift: tuple[float, ...] | None = None
    shape_in: tuple[int, ...] = ()
    shape_out: tuple[int, ...] = ()
    voxel_size: tuple[float, ...] | None = None
    psf_voxel_size: tuple[float, ...] | None = None
    warnings: tuple[str, ...] = field(default=(), repr=False)

    @property
    def changed(self) -> bool:
        """Whether the PSF was changed (beyond nothing at all)."""
        return bool(self.steps)

    def __str__(self) -> str:
        return "; ".join(self.steps) if self.steps else "the PSF was used as given"

    def as_dict(self) -> dict:
        """A plain record for a result's metadata or a provenance file."""
        return {"summary": str(self), "steps": list(self.steps), "background": self.background,
                "shift": None if self.shift is None else list(self.shift), "shape_in": list(self.shape_in),
                "shape_out": list(self.shape_out),
                "voxel_size": None if self.voxel_size is None else list(self.voxel_size),
                "psf_voxel_size": None if self.psf_voxel_size is None else list(self.psf_voxel_size)}


def prepare_psf(psf, *, background="auto", voxel_size=None, psf_voxel_size=None,
                energy: float = ENERGY) -> tuple[np.ndarray, PSFPreparation]:
    """A PSF ready for deconvolution, and what was done to it.

    A measured PSF (one whose background is removed) is: freed of its background (the package's robust
    estimate, :func:`~napari_invprob.deconvolution.background.estimate_background`, removed when it is
    above the noise); checked to hold one bead, whole; moved so that its centre of mass lies on pixel
    ``n // 2`` of every axis (a sub-pixel Fourier shift); cropped to the smallest odd box around it that
    holds ``energy`` of its signal; clipped at 0. A PSF without a background passes through unchanged
    (bit for bit), unless its peak is far from the centre (e.g. an ``np.fft.ifftshift``-ed PSF): it is
    then centred by a circular shift. With both voxel sizes, the PSF is then resampled onto the data's
    grid (cubic spline interpolation about the centre, which stays on ``n // 2``). Every PSF that is
    changed is normalised to sum 1.

    Parameters
    ----------
    psf : array-like
        2D or 3D PSF, e.g. a bead stack. Never modified.
    background : "auto", "none" or float
        ``"auto"``: estimate the background and remove it when it is above the noise (more than
        :data:`NOISE_FACTOR` noise standard deviations and :data:`MIN_BACKGROUND_FRACTION` of the peak);
        ``"none"``: keep it; a number: remove that level.
    voxel_size, psf_voxel_size : sequence of float or None
        The data's and the PSF's voxel sizes, one per axis of the PSF (``(y, x)`` or ``(z, y, x)``), in
        the same unit (only their ratio matters). With both, the PSF is resampled onto the data's grid;
        with one, the report says that the other is unknown and the PSF is used as sampled.
    energy : float
        Share of a measured PSF's energy that its cropped box holds, in (0, 1].

    Returns
    -------
    kernel : numpy.ndarray
        The PSF: the input itself when nothing was done (as float32: a copy if it was not float32),
        else a new float32 array, odd-sized, centred and summing to 1.
    report : PSFPreparation
        What was done; ``str(report)`` says it in one line.

    Raises
    ------
    ValueError
        A PSF that is not 2D or 3D, not finite or not of positive sum; an unknown ``background``; voxel
        sizes that are not positive finite numbers, one per axis; a measured PSF that is not one bead:
        all background, no peak above the noise, two beads, or a bead cut by the border (the message
        says what was found).
    TypeError
        Non-numeric data.
    """
    data = _as_array(psf)
    sizes = _voxel_sizes(voxel_size, "voxel_size", data.ndim), _voxel_sizes(psf_voxel_size, "psf_voxel_size", data.ndim)
    level = _background_level(background)
    if not 0 < energy <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy}")
    kernel, steps, warnings, shift, removed = data, [], [], None, 0.0
    values = data.astype(np.float64)
    if level == "auto":
        level, kept = _estimated_background(values, np.issubdtype(data.dtype, np.integer))
        if kept:
            warnings.append(kept)
    if level:
        values, shift, removed, measured_steps = _prepared_bead(values, float(level), energy)
        steps += measured_steps
    elif _far_from_centre(values):
        values, shift, centring = _circularly_centred(values)
        steps.append(centring)
    else:
        values = None  # used as given (so far)
    voxel, psf_voxel = sizes
    if voxel is not None and psf_voxel is not None:
        if not np.allclose(voxel, psf_voxel, rtol=1e-6):
            source = data.astype(np.float64) if values is None else values
            values = resample_psf(source, psf_voxel, voxel)
            steps.append(f"resampled from its voxel size {_sizes(psf_voxel)} to the data's {_sizes(voxel)}: "
                         f"{_shape(source.shape)} -> {_shape(values.shape)} pixels")
    elif voxel is not None or psf_voxel is not None:
        known, unknown = ("the data's", "the PSF's") if voxel is not None else ("the PSF's", "the data's")
        warnings.append(f"only {known} voxel size is known ({_sizes(voxel or psf_voxel)}), not {unknown}: the PSF "
                        "is used on the data's grid as it was sampled; give both to resample it")
    elif values is not None and removed:
        steps.append("voxel sizes not given: the PSF is taken to share the data's grid")
    if values is not None:
        kernel = (values / values.sum()).astype(np.float32)
        steps.append("normalised to sum 1")
    elif kernel.dtype != np.float32:
        kernel = kernel.astype(np.float32)
    report = PSFPreparation(tuple(steps), removed, shift, tuple(data.shape), tuple(kernel.shape), voxel, psf_voxel,
                            tuple(warnings))
    return kernel, report


def resample_psf(psf, from_voxel_size, to_voxel_size) -> np.ndarray:
    """A centred PSF sampled on a grid of ``from_voxel_size`` -> the same PSF on a grid of ``to_voxel_size``.

    The centre pixel ``n // 2`` stays the centre (the same physical point); the new box covers the same
    physical extent (``m // 2 = floor((n // 2) · from / to)`` per axis, so odd sizes stay odd); values are
    cubic-spline interpolated at the new pixel centres (point samples: a z step samples the PSF at each
    plane), clipped at 0 and normalised to sum 1.

    Parameters
    ----------
    psf : array-like
        Centred PSF with one axis per voxel size.
    from_voxel_size, to_voxel_size : sequence of float
        Its voxel size, and the grid's to sample it on, in the same unit.

    Returns
    -------
    numpy.ndarray
        float64, summing to 1.
    """
    source = np.asarray(psf, dtype=np.float64)
    ratio = np.asarray(to_voxel_size, dtype=float) / np.asarray(from_voxel_size, dtype=float)
    if np.allclose(ratio, 1.0, rtol=1e-9, atol=0.0):
        return source / source.sum()
    centre = np.array([n // 2 for n in source.shape])
    half = [int(math.floor(c / r + 1e-9)) for c, r in zip(centre, ratio)]
    axes = [c + r * np.arange(-h, h + 1) for c, r, h in zip(centre, ratio, half)]
    coordinates = np.stack(np.meshgrid(*axes, indexing="ij"))
    values = np.clip(ndimage.map_coordinates(source, coordinates, order=3, mode="grid-constant", cval=0.0), 0.0, None)
    total = values.sum()
    if not total > 0:
        raise ValueError(f"the PSF vanishes on a grid of {_sizes(to_voxel_size)} (from {_sizes(from_voxel_size)})")
    return values / total


# -- the steps ---------------------------------------------------------------------------------------------
def _estimated_background(values: np.ndarray, counts: bool) -> tuple[float, str | None]:
    """The background to remove (0: none) and, when one may be there but is kept, why (``counts``: the
    PSF holds integers, as a camera records them)."""
    peak = float(values.max())
    if min(values.shape[-2:]) < MIN_BACKGROUND_SIZE:
        lowest = float(values.min())
        if counts and lowest > MIN_BACKGROUND_FRACTION * peak:
            return 0.0, (f"the PSF ({_shape(values.shape)}) is too small to estimate its background, but its "
                         f"lowest value is {lowest:.4g} ({lowest / peak:.1%} of its peak): if that is a background, "
                         "give its level as the PSF background, or a larger box around the bead")
        return 0.0, None
    level = float(estimate_background(values.astype(np.float32)))
    sigma = noise_sigma(values)
    if level > NOISE_FACTOR * sigma and level > MIN_BACKGROUND_FRACTION * peak:
        return level, None
    if level > MIN_BACKGROUND_FRACTION * peak:
        return 0.0, (f"the PSF's background of {level:.4g} is within its noise (σ {sigma:.3g}): kept; give the "
                     "background level to remove it")
    return 0.0, None


def _prepared_bead(values: np.ndarray, level: float, energy: float):
    """Background removed, one bead checked, centred, cropped to ``energy``, clipped: the values, the
    shift, the level and the steps in words."""
    total, peak = float(values.sum()), float(values.max())
    signal = values - level
    bead = one_bead(signal, what="the PSF")
    steps = [f"the PSF sat on a background of {level:.4g} ({level / peak:.1%} of its peak, {level * values.size / total:.0%} "
             "of its sum): removed"]
    centre = np.array([n // 2 for n in values.shape], dtype=float)
    shift = centre - bead.centre
    moved = np.fft.ifftn(ndimage.fourier_shift(np.fft.fftn(signal), shift)).real
    mask = np.fft.ifftn(ndimage.fourier_shift(np.fft.fftn(bead.mask.astype(np.float64)), shift)).real > 0.5
    half = _energy_half_widths(np.where(mask, moved, 0.0), energy)
    box = tuple(slice(int(c) - h, int(c) + h + 1) for c, h in zip(centre, half))
    cropped = np.clip(moved[box], 0.0, None)
    if not cropped.any():
        raise ValueError("the PSF holds nothing above its background once centred")
    where = ", ".join(f"{c:.1f}" for c in bead.centre)
    steps.append(f"its centre of mass ({where}) moved to the centre ({', '.join(str(int(c)) for c in centre)})")
    if cropped.shape != values.shape:
        steps.append(f"cropped from {_shape(values.shape)} to {_shape(cropped.shape)} pixels ({energy:.1%} of its "
                     "energy)")
    steps.append("negatives clipped to 0")
    return cropped, tuple(float(s) for s in shift), level, steps


def _energy_half_widths(signal: np.ndarray, energy: float) -> list[int]:
    """Per axis the half width ``h`` of the smallest box ``[c − h, c + h]`` (``c = n // 2``) whose marginal
    holds ``energy ** (1 / ndim)`` of the signal, grown together until the box holds ``energy``."""
    total = signal.sum()
    half = []
    for axis, n in enumerate(signal.shape):
        profile = signal.sum(axis=tuple(a for a in range(signal.ndim) if a != axis))
        centre = n // 2
        held = [profile[max(centre - h, 0):centre + h + 1].sum() for h in range(centre + 1)]
        reached = np.flatnonzero(np.asarray(held) >= energy ** (1 / signal.ndim) * total)
        half.append(int(reached[0]) if reached.size else centre)
    limit = [n // 2 - (1 - n % 2) for n in signal.shape]  # an odd box inside the array
    half = [min(h, m) for h, m in zip(half, limit)]
    while True:
        box = tuple(slice(n // 2 - h, n // 2 + h + 1) for n, h in zip(signal.shape, half))
        if signal[box].sum() >= energy * total or half == limit:
            return half
        half = [min(h + 1, m) for h, m in zip(half, limit)]


def _far_from_centre(values: np.ndarray) -> bool:
    """Whether the peak lies more than a quarter of the size from pixel ``n // 2`` on some axis while the
    centre pixel is below half the peak (a flat top, e.g. a box blur, is centred)."""
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    centre = tuple(n // 2 for n in values.shape)
    far = any(abs(p - c) > n / 4 for p, c, n in zip(peak, centre, values.shape))
    return far and values[centre] < 0.5 * values[peak]


def _circularly_centred(values: np.ndarray):
    """The PSF moved circularly so that its peak, then its centre of mass near the peak, lies on ``n // 2``."""
    peak = np.array(np.unravel_index(int(np.argmax(values)), values.shape))
    centre = np.array([n // 2 for n in values.shape])
    rolled = np.roll(values, tuple(centre - peak), axis=tuple(range(values.ndim)))
    com = np.array(ndimage.center_of_mass(np.clip(rolled, 0.0, None)))
    shift = centre - com
    moved = np.fft.ifftn(ndimage.fourier_shift(np.fft.fftn(rolled), shift)).real
    where = ", ".join(str(int(p)) for p in peak)
    return (moved, tuple(float(s) for s in centre - peak + shift),
            f"the PSF's peak was at ({where}), far from its centre ({', '.join(str(int(c)) for c in centre)}), "
            "as if it had been np.fft.ifftshift-ed: centred by a circular shift")


# -- checks ----------------------------------------------------------------------------------------------
def _as_array(psf) -> np.ndarray:
    data = np.asarray(psf)
    if data.dtype == object or not (np.issubdtype(data.dtype, np.number) or data.dtype == bool) \
            or np.iscomplexobj(data):
        raise TypeError(f"the PSF must hold real numbers, got dtype {data.dtype}")
    if data.ndim not in (2, 3):
        raise ValueError(f"a PSF has 2 or 3 axes, got shape {data.shape}")
    if not np.isfinite(data).all():
        raise ValueError("the PSF contains NaN or Inf values")
    if not float(data.sum(dtype=np.float64)) > 0:
        raise ValueError(f"the PSF must have a positive sum, its sum is {float(data.sum(dtype=np.float64)):.4g}")
    return data


def _background_level(background):
    if isinstance(background, str):
        if background not in PSF_BACKGROUNDS:
            raise ValueError(f"unknown psf_background {background!r}; use 'auto', 'none' or a number")
        return "auto" if background == "auto" else 0.0
    if isinstance(background, bool) or not isinstance(background, (int, float, np.integer, np.floating)):
        raise TypeError(f"psf_background must be 'auto', 'none' or a number, got {background!r}")
    if not (math.isfinite(background) and background >= 0):
        raise ValueError(f"psf_background must be a finite number >= 0, got {background!r}")
    return float(background)


def _voxel_sizes(value, name: str, ndim: int) -> tuple[float, ...] | None:
    """One positive finite size per axis, or None."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        raise ValueError(f"{name} takes one size per axis of the PSF ({ndim}), got {value!r}")
    sizes = tuple(value)
    if len(sizes) != ndim:
        raise ValueError(f"{name} {tuple(sizes)} has {len(sizes)} entries for a PSF with {ndim} axes; give one "
                         "size per axis, (z, y, x) or (y, x)")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be numbers, got {value!r}")
        if not (math.isfinite(size) and size > 0):
            raise ValueError(f"{name} must be positive finite sizes, got {tuple(float(s) for s in sizes)}")
    return tuple(float(s) for s in sizes)


def _sizes(sizes) -> str:
    return " x ".join(f"{s:g}" for s in sizes)


def _shape(shape) -> str:
    return "x".join(str(int(n)) for n in shape)


__all__ = ["ENERGY", "PSF_BACKGROUNDS", "PSFPreparation", "prepare_psf", "resample_psf"]
