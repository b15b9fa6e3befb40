"""The Fourier view of an image or volume, to see what a reconstruction lacks (e.g. the missing wedge).

By the Fourier slice theorem the projection at angle θ is the central line (plane, in 3D) of the
object's Fourier transform at that angle, so a limited tilt range leaves a wedge of frequencies
unmeasured; it shows as a dark wedge in the power spectrum of the reconstruction.
"""

from __future__ import annotations

import numpy as np
import torch

from ._shared.device import to_numpy, to_tensor


def power_spectrum(image, *, device=None) -> np.ndarray:
    """Centred log-magnitude of the Fourier transform, ``log(1 + |F(image)|)``.

    Parameters
    ----------
    image : array-like
        A 2D image ``(y, x)`` or a 3D volume ``(z, y, x)``. Never modified.
    device : str, torch.device or None
        Where to compute; None picks the best available device.

    Returns
    -------
    numpy.ndarray
        float32 array of the input's shape, zero frequency at index ``n // 2`` of every axis.

    Raises
    ------
    ValueError
        If the data are not 2D or 3D, or contain NaN or Inf.
    TypeError
        If the data are complex or not numeric.
    """
    ndim = np.ndim(image)
    if ndim not in (2, 3):
        raise ValueError(
            f"power_spectrum takes a 2D image or a 3D volume, got {ndim} dimensions (shape {np.shape(image)})"
        )
    data = to_tensor(image, device, name="image")
    spectrum = torch.fft.fftshift(torch.fft.fftn(data), dim=tuple(range(ndim)))
    return to_numpy(torch.log1p(spectrum.abs()))


__all__ = ["power_spectrum"]
