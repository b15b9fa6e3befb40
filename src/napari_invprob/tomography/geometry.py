"""Tilt-series geometry: between volumes, tilt series and the batches of 2D slices the projector sees.

Conventions (napari axis order):

- a volume is ``(z, y, x)``, ``z`` along the beam at zero tilt;
- a tilt series is ``(n_angles, rows, cols)``, the projection at each angle in degrees;
- the tilt axis is an image axis, ``"y"`` (rows, the default) or ``"x"`` (columns).

Parallel-beam projection about a tilt axis acts on each plane perpendicular to it independently: with
the tilt axis along ``"y"`` each y-row of the volume is a slice ``(z, x)`` whose sinogram
``(n_angles, x)`` is that row of every projection; with ``"x"`` each x-column is a slice ``(z, y)``
whose sinogram ``(n_angles, y)`` is that column of every projection. So a volume is a batch of slices
and a tilt series a batch of sinograms, and :func:`to_slices` / :func:`from_slices` go between them
(one permutation table, used by the forward model and by reconstruction alike).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._shared.device import to_numpy, to_tensor
from ..operators.projector import ParallelBeamProjector, validate_angles

TILT_AXES = ("y", "x")
_TO_SLICES = {"y": (1, 0, 2), "x": (2, 0, 1)}  # the tilt axis first, the other two in order
_FROM_SLICES = {"y": (1, 0, 2), "x": (1, 2, 0)}
_MAX_BATCH_ELEMENTS = 1 << 24  # slices and sinograms projected at once (64 MB of float32 each)


def check_tilt_axis(tilt_axis) -> str:
    """Return ``tilt_axis`` if it is ``"y"`` or ``"x"``, else raise a ``ValueError`` naming it."""
    if tilt_axis not in TILT_AXES:
        raise ValueError(f"tilt_axis must be 'y' (rows) or 'x' (columns), got {tilt_axis!r}")
    return tilt_axis


def _permute(array, axes):
    if isinstance(array, torch.Tensor):
        return array.permute(axes)
    return np.transpose(array, axes)


def to_slices(array, tilt_axis: str = "y"):
    """View a volume as a batch of slices, or a tilt series as a batch of sinograms.

    Parameters
    ----------
    array : numpy.ndarray or torch.Tensor
        A volume ``(z, y, x)`` or a tilt series ``(n_angles, rows, cols)``.
    tilt_axis : {"y", "x"}
        The image axis the specimen is tilted about.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        A view (no copy) with the tilt axis first: a volume becomes slices ``(y, z, x)`` (tilt axis
        ``"y"``) or ``(x, z, y)`` (``"x"``); a tilt series becomes sinograms ``(rows, n_angles, cols)``
        or ``(cols, n_angles, rows)``.
    """
    if array.ndim != 3:
        raise ValueError(f"expected a 3D volume or tilt series, got shape {tuple(array.shape)}")
    return _permute(array, _TO_SLICES[check_tilt_axis(tilt_axis)])


def from_slices(slices, tilt_axis: str = "y"):
    """Inverse of :func:`to_slices`: a batch of slices to a volume ``(z, y, x)``, or of sinograms to a
    tilt series ``(n_angles, rows, cols)`` (a view, no copy)."""
    if slices.ndim != 3:
        raise ValueError(f"expected a 3D batch of slices or sinograms, got shape {tuple(slices.shape)}")
    return _permute(slices, _FROM_SLICES[check_tilt_axis(tilt_axis)])


def project(volume_or_image, angles, *, tilt_axis: str = "y", device=None) -> np.ndarray:
    """Parallel-beam projections of a 2D image or a 3D volume at the given tilt angles.

    The exact forward model of :func:`napari_invprob.reconstruct`: the separable-footprint
    :class:`~napari_invprob.operators.ParallelBeamProjector` (rotation about pixel ``n // 2`` of each
    slice, as ``skimage.transform.radon``), so reprojecting a reconstruction compares directly with
    the data.

    Parameters
    ----------
    volume_or_image : array-like
        A 2D image ``(rows, cols)`` or a volume ``(z, y, x)``. Never modified.
    angles : array-like
        Tilt angles in degrees, 1D, any order and spacing; 0 projects along rows (2D) or along z (3D).
    tilt_axis : {"y", "x"}
        For a volume, the image axis the specimen is tilted about (see the module docstring); a 2D
        image is a single slice and the tilt axis is the one perpendicular to it.
    device : str, torch.device or None
        Where to compute; None picks the best available device.

    Returns
    -------
    numpy.ndarray
        float32: a sinogram ``(n_angles, cols)`` for an image; a tilt series
        ``(n_angles, y, x)`` for a volume.

    Raises
    ------
    ValueError
        If the data are not 2D or 3D or contain NaN/Inf, the angles are empty, not 1D, not finite or
        repeated (as :func:`napari_invprob.reconstruct` refuses them), or ``tilt_axis`` is not ``"y"``
        or ``"x"``.
    TypeError
        If the data or angles are not real numbers.

    Warns
    -----
    UserWarning
        If the angles look like radians (see :func:`~napari_invprob.operators.projector.validate_angles`),
        or a slice that is not square reaches past the detector (``cols`` bins) at some angle: its
        projections there lose mass (the detector is as wide as the slice's columns).
    """
    ndim = np.ndim(volume_or_image)
    if ndim not in (2, 3):
        raise ValueError(
            f"project takes a 2D image (rows, cols) or a 3D volume (z, y, x), got {ndim} dimensions "
            f"(shape {np.shape(volume_or_image)})"
        )
    angles = validate_angles(angles)
    check_tilt_axis(tilt_axis)
    data = to_tensor(volume_or_image, device, name="volume" if ndim == 3 else "image")
    slices = data.unsqueeze(0) if ndim == 2 else to_slices(data, tilt_axis)
    _warn_if_mass_is_lost(tuple(slices.shape[1:]), angles)
    if ndim == 2:
        return to_numpy(ParallelBeamProjector(data.shape, angles, device=data.device)(data))
    op = ParallelBeamProjector(slices.shape[1:], angles, device=data.device)
    per_slice = max(np.prod(op.in_shape), np.prod(op.out_shape))
    chunk = max(1, _MAX_BATCH_ELEMENTS // int(per_slice))
    sinograms = torch.cat([op(slices[i : i + chunk]) for i in range(0, slices.shape[0], chunk)])
    return to_numpy(from_slices(sinograms, tilt_axis))


def _warn_if_mass_is_lost(shape: tuple[int, int], angles: np.ndarray) -> None:
    """Warn when a slice's inscribed ellipse, projected at some angle, is wider than the detector
    (``cols`` bins): a square slice never is (its inscribed disc fits at every angle); a slice taller
    than wide is near 90°."""
    rows, cols = shape
    theta = np.deg2rad(angles)
    extent = 2.0 * np.hypot(0.5 * cols * np.cos(theta), 0.5 * rows * np.sin(theta))
    worst = int(np.argmax(extent))
    if extent[worst] > cols + 1:
        warnings.warn(
            f"the slices ({rows} x {cols}) are not square: at {angles[worst]:g}° they reach {extent[worst]:.0f} "
            f"pixels across, past the {cols}-bin detector, so the projections lose mass there; pad the slices "
            "to a square",
            UserWarning, stacklevel=3,
        )
