"""Convolution with a centred point-spread function, FFT-based (rfftn), 2D/3D, per channel, batched.

Centre convention: the PSF pixel at index ``size // 2`` on every axis is the zero shift, for odd and
even sizes alike (the convention of ``numpy.fft.ifftshift`` and ``scipy.ndimage.convolve``), so
convolving with a PSF that is a single 1 at its centre pixel returns the image unchanged. This is the
fix for the lecture's ``fft2(kernel, s=shape)``, which puts the kernel's corner at zero shift and moves
the image by half the kernel size.

Boundaries:

- ``"periodic"``: circular convolution on the image grid. It is diagonal in Fourier space, so the
  operator exposes its transfer function :attr:`Convolution.otf` and the transforms
  :meth:`Convolution.rfft` / :meth:`Convolution.irfft` for closed-form solvers.
- ``"zero"``: linear convolution of the zero-padded image, cropped back to the image shape, i.e. no
  wrap-around. For odd PSF sizes this equals ``scipy.signal.fftconvolve(x, psf, mode="same")``.
  For even sizes scipy's ``"same"`` crops its full output from index ``(size - 1) // 2`` (one pixel
  before our centre ``size // 2``), so scipy's result is ours shifted by one pixel along each even
  axis; ours equals ``fftconvolve(x, psf, mode="full")`` cropped from ``size // 2``.

The adjoint is correlation with the same PSF (the conjugate transfer function), the exact transpose of
the forward map in both modes.
"""

from __future__ import annotations

import scipy.fft
import torch

from .._device import to_tensor
from .base import LinearOperator

BOUNDARIES = ("periodic", "zero")


class Convolution(LinearOperator):
    """Convolution ``y = psf * x`` with a centred PSF, applied with real FFTs.

    Parameters
    ----------
    psf : array-like or torch.Tensor
        The point-spread function (normalised by the caller, e.g. to sum 1), centred: its pixel
        ``size // 2`` on every axis is the zero shift. It has one axis per spatial axis of the image.
    shape : tuple of int
        Full shape of one image, including the channel axis when ``channel_axis`` is given; the input
        and output shapes of the operator.
    boundary : {"periodic", "zero"}
        ``"periodic"`` for circular convolution; ``"zero"`` for linear convolution of the zero-padded
        image (no wrap-around), cropped to ``shape``.
    channel_axis : int or None
        Axis of ``shape`` holding independent channels (e.g. ``-1`` for an RGB ``(512, 512, 3)`` image);
        the same PSF is applied to each channel. None: every axis is spatial.
    device : str, torch.device or None
        Where the transfer function lives and the work is done; None picks the best device.

    Raises
    ------
    ValueError
        If the PSF's number of axes differs from the number of spatial axes, if it is larger than the
        image along any axis, if it is all zero or contains NaN/Inf, if ``boundary`` is unknown or if
        ``channel_axis`` is out of range.

    Notes
    -----
    Inputs are float32 tensors of shape ``(*batch, *shape)``; leading axes are a batch.
    """

    def __init__(self, psf, shape, *, boundary="periodic", channel_axis=None, device=None):
        super().__init__(shape, shape, device=device)
        if boundary not in BOUNDARIES:
            raise ValueError(f"unknown boundary {boundary!r}; valid boundaries are {', '.join(BOUNDARIES)}")
        ndim = len(self.in_shape)
        if channel_axis is not None and not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {self.in_shape}")
        self.boundary = boundary
        self.channel_axis = None if channel_axis is None else channel_axis % ndim
        self.spatial_shape = tuple(s for i, s in enumerate(self.in_shape) if i != self.channel_axis)
        psf_t = to_tensor(psf, self.device, name="psf")
        check_psf_fits(tuple(psf_t.shape), self.spatial_shape, self.in_shape)
        if not bool(psf_t.any()):
            raise ValueError("psf is all zero; a PSF must have a non-zero sum (normalise it to sum 1)")
        self.psf_shape = tuple(psf_t.shape)
        self._spatial_dims = tuple(range(-len(self.spatial_shape), 0))
        if boundary == "periodic":
            self._grid = self.spatial_shape
        else:
            self._grid = tuple(
                scipy.fft.next_fast_len(n + k // 2, real=True) for n, k in zip(self.spatial_shape, self.psf_shape)
            )
        self._otf = _centred_otf(psf_t, self._grid)
        self._otf_conj = self._otf.conj().resolve_conj()

    # -- Fourier-space access for closed-form solvers (periodic only) ----------------------------
    @property
    def otf(self) -> torch.Tensor:
        """Transfer function: complex ``rfftn`` of the centred PSF on the spatial grid.

        Shape ``(*spatial_shape[:-1], spatial_shape[-1] // 2 + 1)``; it broadcasts against
        :meth:`rfft` outputs. Only for ``boundary="periodic"``.
        """
        self._require_periodic("otf")
        return self._otf

    def rfft(self, x: torch.Tensor) -> torch.Tensor:
        """Real FFT over the spatial axes, on the operator's grid (``boundary="periodic"`` only).

        Parameters
        ----------
        x : torch.Tensor
            Shape ``(*batch, *shape)``.

        Returns
        -------
        torch.Tensor
            Complex, shape ``(*batch, *spatial_shape[:-1], spatial_shape[-1] // 2 + 1)`` without a
            channel axis, or ``(*batch, n_channels, ...)`` with the channel axis moved in front of
            the spatial axes. Multiply by :attr:`otf` to convolve.
        """
        self._require_periodic("rfft")
        self.batch_shape(x)
        return torch.fft.rfftn(self._channels_first(x), dim=self._spatial_dims)

    def irfft(self, X: torch.Tensor) -> torch.Tensor:  # noqa: N803 - Fourier variables are upper case
        """Inverse of :meth:`rfft`: back to real tensors of shape ``(*batch, *shape)``."""
        self._require_periodic("irfft")
        return self._channels_back(torch.fft.irfftn(X, s=self.spatial_shape, dim=self._spatial_dims))

    # -- the operator ------------------------------------------------------------------------------
    def forward(self, x):
        return self._apply(x, self._otf)

    def adjoint(self, y):
        return self._apply(y, self._otf_conj)

    def _apply(self, x: torch.Tensor, transfer: torch.Tensor) -> torch.Tensor:
        self.batch_shape(x)
        x = self._channels_first(x)
        spectrum = torch.fft.rfftn(x, s=self._grid, dim=self._spatial_dims).mul_(transfer)
        out = torch.fft.irfftn(spectrum, s=self._grid, dim=self._spatial_dims)
        if self.boundary == "zero":
            for dim, n in zip(self._spatial_dims, self.spatial_shape):
                out = out.narrow(dim, 0, n)
        return self._channels_back(out.contiguous())

    # -- helpers -------------------------------------------------------------------------------------
    def _channels_first(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_axis is None:
            return x
        ndim = len(self.in_shape)
        return x.movedim(self.channel_axis - ndim, -ndim)

    def _channels_back(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_axis is None:
            return x
        ndim = len(self.in_shape)
        return x.movedim(-ndim, self.channel_axis - ndim)

    def _require_periodic(self, name: str) -> None:
        if self.boundary != "periodic":
            raise AttributeError(
                f"Convolution.{name} exists only for boundary='periodic'; boundary={self.boundary!r} is "
                "not diagonal in Fourier space"
            )

    def __repr__(self) -> str:
        return (
            f"Convolution(psf_shape={self.psf_shape}, shape={self.in_shape}, boundary={self.boundary!r}, "
            f"channel_axis={self.channel_axis})"
        )


def check_psf_fits(psf_shape, spatial_shape, image_shape) -> None:
    """Refuse a PSF whose number of axes or size does not fit the image's spatial axes."""
    if len(psf_shape) != len(spatial_shape):
        raise ValueError(
            f"psf has {len(psf_shape)} axes (shape {psf_shape}) but the image of shape {image_shape} has "
            f"{len(spatial_shape)} spatial axes {spatial_shape}; they must match"
        )
    if any(k > n for k, n in zip(psf_shape, spatial_shape)):
        raise ValueError(
            f"psf of shape {psf_shape} is larger than the image's spatial shape {spatial_shape}"
        )


def _centred_otf(psf: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """rfftn of ``psf`` zero-padded to ``grid`` with its pixel ``size // 2`` moved to index 0."""
    padded = psf.new_zeros(grid)
    padded[tuple(slice(0, k) for k in psf.shape)] = psf
    shifts = tuple(-(k // 2) for k in psf.shape)
    padded = torch.roll(padded, shifts=shifts, dims=tuple(range(psf.ndim)))
    return torch.fft.rfftn(padded)
