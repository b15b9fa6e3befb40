"""Simulated tomographic measurements: ``y = P x + e`` for a 2D image or a 3D tilt series."""

from __future__ import annotations

import numpy as np

from ..tomography import geometry as tilt_geometry


def project(image_or_volume, angles_deg, noise=0.0, seed=None, *, tilt_axis="y"):
    """Project an image or volume at the given angles and add white Gaussian noise.

    Parameters
    ----------
    image_or_volume : array-like
        A 2D image ``(rows, cols)`` or a volume ``(z, y, x)``. Never modified.
    angles_deg : array-like
        Tilt angles in degrees (1D, any order).
    noise : float
        Standard deviation of the noise as a fraction of the projections' maximum (absolute)
        value (0: noiseless).
    seed : int, numpy.random.Generator or None
        Seed of ``numpy.random.default_rng`` for the noise, so measurements are reproducible.
    tilt_axis : {"y", "x"}
        The image axis a volume is tilted about, see :func:`napari_invprob.project`.

    Returns
    -------
    numpy.ndarray
        float32 sinogram ``(n_angles, cols)`` or tilt series ``(n_angles, y, x)``, made with
        :func:`napari_invprob.tomography.geometry.project` (so, with our projector: fine for
        demonstrations; quality tests use the exact data of :mod:`napari_invprob.datasets`).

    Raises
    ------
    ValueError
        On a negative or non-finite ``noise``, and as :func:`~napari_invprob.project` on bad data,
        angles or tilt axis.
    """
    noise = float(noise)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite fraction >= 0 of the data's maximum, got {noise}")
    projections = tilt_geometry.project(image_or_volume, angles_deg, tilt_axis=tilt_axis)
    if noise > 0:
        sigma = np.float32(noise * float(np.abs(projections).max()))
        rng = np.random.default_rng(seed)
        projections += sigma * rng.standard_normal(projections.shape, dtype=np.float32)
    return projections
