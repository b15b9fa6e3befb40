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

import math

import numpy as np
import scipy.fft
import torch

from .._shared.device import to_tensor
from .._shared.memory import keep_large_blocks
from .base import LinearOperator

BOUNDARIES = ("periodic", "zero")
#: A transfer function whose imaginary part stays below this fraction of its peak is taken as real (the
#: PSF is point-symmetric, e.g. Gaussian or Born & Wolf): stored real, half the memory, and the
#: adjoint is the forward map.
SYMMETRY_TOLERANCE = 1e-6
#: Images (with their batch) of at most this many elements are transformed by one FFT call each way
#: (fastest; its temporaries are a few times the image, at most tens of MB); larger ones plane by plane,
#: with no full-size temporary besides the spectrum (64x512x512: Richardson-Lucy's peak memory 8x the
#: stack instead of 15x).
WHOLE_TRANSFORM_ELEMENTS = 2**22
#: Elements per block of the FFT along the first of three spatial axes (the only temporary of a
#: transform besides one plane): 2**19 complex numbers, 4 MB.
BLOCK_ELEMENTS = 2**19


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
    Inputs are float32 tensors of shape ``(*batch, *shape)``; leading axes are a batch. The transforms
    run plane by plane (a 2D FFT per plane, then the FFT along the first of three spatial axes in
    blocks of :data:`BLOCK_ELEMENTS`), so applying the operator needs no full-size temporary besides
    the spectrum, and with :meth:`forward_into` / :meth:`adjoint_into` on a :meth:`scratch` tensor not
    even that. A point-symmetric PSF keeps a real transfer function (:attr:`symmetric`).
    """

    def __init__(self, psf, shape, *, boundary="periodic", channel_axis=None, device=None):
        super().__init__(shape, shape, device=device)
        if boundary not in BOUNDARIES:
            raise ValueError(f"unknown boundary {boundary!r}; valid boundaries are {', '.join(BOUNDARIES)}")
        ndim = len(self.in_shape)
        if channel_axis is not None and not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis {channel_axis} is out of range for an image of shape {self.in_shape}")
        keep_large_blocks()  # every transform makes and frees arrays of the image's size: reuse their memory
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
        padded = psf_t.new_zeros(self._grid)  # the PSF on the grid, its pixel size // 2 moved to index 0
        wrapped = [(torch.arange(k, device=psf_t.device) - k // 2) % n for k, n in zip(psf_t.shape, self._grid)]
        padded[torch.meshgrid(*wrapped, indexing="ij")] = psf_t
        transfer = self._spectrum(padded)
        del padded
        parts = torch.view_as_real(transfer)
        #: True when the PSF is point-symmetric (its transfer function real): the adjoint is the forward map
        self.symmetric = float(parts[..., 1].abs().max()) <= SYMMETRY_TOLERANCE * float(parts.abs().max())
        if self.symmetric:  # kept real on a large grid (half the memory), exactly real on a small one
            real = transfer.real.contiguous()
            self._transfer = real if real.numel() > WHOLE_TRANSFORM_ELEMENTS // 2 else torch.complex(real, 0 * real)
        else:
            self._transfer = transfer

    # -- Fourier-space access for closed-form solvers (periodic only) ----------------------------
    @property
    def otf(self) -> torch.Tensor:
        """Transfer function: complex ``rfftn`` of the centred PSF on the spatial grid.

        Shape ``(*spatial_shape[:-1], spatial_shape[-1] // 2 + 1)``; it broadcasts against
        :meth:`rfft` outputs. Only for ``boundary="periodic"``. A new complex tensor on every call
        when the PSF is point-symmetric (the operator keeps only the real part then).
        """
        self._require_periodic("otf")
        return self._transfer if self._transfer.is_complex() else self._transfer.to(torch.complex64)

    @property
    def otf_power(self) -> torch.Tensor:
        """``|otf|²``, real, on the grid of :attr:`otf` (a new tensor; ``boundary="periodic"`` only)."""
        self._require_periodic("otf_power")
        return self._transfer.abs().square_()

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
        return self._spectrum(self._channels_first(x))

    def irfft(self, X: torch.Tensor) -> torch.Tensor:  # noqa: N803 - Fourier variables are upper case
        """Inverse of :meth:`rfft`: back to real tensors of shape ``(*batch, *shape)``."""
        self._require_periodic("irfft")
        return self._channels_back(torch.fft.irfftn(X, s=self.spatial_shape, dim=self._spatial_dims))

    # -- the operator ------------------------------------------------------------------------------
    def forward(self, x):
        return self._convolve(x, adjoint=False)

    def adjoint(self, y):
        return self._convolve(y, adjoint=True)

    def forward_into(self, x, out):
        # out may be x, or a scratch tensor sharing its memory with the spectrum
        return self._convolve(x, adjoint=False, out=out)

    def adjoint_into(self, y, out):
        return self._convolve(y, adjoint=True, out=out)

    def adjoint_ones(self) -> torch.Tensor:
        """``Aᵀ1``: the PSF's sum (a 0-d tensor) for a periodic blur, an image for ``boundary="zero"``."""
        if self.boundary == "periodic":
            return self._transfer.flatten()[0].real.clone()
        return super().adjoint_ones()

    def scratch(self, batch=()) -> torch.Tensor:
        """A zeroed tensor ``(*batch, *shape)`` for :meth:`forward_into` and :meth:`adjoint_into` to work in.

        Above :data:`WHOLE_TRANSFORM_ELEMENTS` its memory also holds its spectrum on the grid, so that
        they allocate no spectrum with it as ``out``. A smaller one is a plain contiguous tensor: one FFT
        call each way makes its spectrum anyway, and element-wise passes over a contiguous tensor are
        faster (torch's ``log`` on the padded layout took 5.4 ms at 128³, on a contiguous one 0.8 ms).
        """
        if math.prod(batch) * math.prod(self.in_shape) <= WHOLE_TRANSFORM_ELEMENTS:
            return super().scratch(batch)
        spectrum = torch.zeros((*batch, *self._channels, *self._half_grid), dtype=torch.complex64, device=self.device)
        return self._channels_back(self._image_view(spectrum))

    def transform_in_place(self, x: torch.Tensor, update) -> torch.Tensor:
        """``x ← irfftn(update(rfftn(x)))`` over the spatial axes (``boundary="periodic"`` only).

        Parameters
        ----------
        x : torch.Tensor
            Shape ``(*batch, *shape)``; overwritten. Made by :meth:`scratch`, it also holds the
            spectrum (no full-size temporary).
        update : callable
            Changes a spectrum (complex, laid out as :meth:`rfft` returns it) in place, e.g. a
            division in a closed-form solve.

        Returns
        -------
        torch.Tensor
            ``x``.
        """
        self._require_periodic("transform_in_place")
        return self._through_spectrum(x, x, update)

    def _convolve(self, x: torch.Tensor, *, adjoint: bool, out: torch.Tensor | None = None) -> torch.Tensor:
        if out is not None and tuple(out.shape) != tuple(x.shape):
            raise ValueError(f"out has shape {tuple(out.shape)}, expected {tuple(x.shape)}")
        return self._through_spectrum(x, out, lambda spectrum: self._multiply(spectrum, adjoint))

    def _through_spectrum(self, x: torch.Tensor, out: torch.Tensor | None, update) -> torch.Tensor:
        """``out ← irfftn(update(rfftn(x)))`` on the grid, cropped; ``out`` may be ``x``. Without ``out``
        a new tensor: the inverse transform's own where it has the image's layout (no copy)."""
        self.batch_shape(x)
        source = self._channels_first(x)
        if x.numel() <= WHOLE_TRANSFORM_ELEMENTS:  # one FFT call each way: fastest, and small temporaries
            spectrum = self._spectrum(source)
            update(spectrum)
            result = torch.fft.irfftn(spectrum, s=self._grid, dim=self._spatial_dims)
            for dim, n in zip(self._spatial_dims, self.spatial_shape):
                result = result.narrow(dim, 0, n)
            if out is None and self.channel_axis is None and result.is_contiguous():
                return result
            out = x.new_empty(x.shape) if out is None else out
            self._channels_first(out).copy_(result)
            return out
        out = x.new_empty(x.shape) if out is None else out
        target = self._channels_first(out)
        spectrum = self._spectrum_of(target)
        if spectrum is None:
            spectrum = self._spectrum(source)
        else:
            self._transform(source, spectrum)
        update(spectrum)
        self._inverse(spectrum, target)
        return out

    def _multiply(self, spectrum: torch.Tensor, adjoint: bool) -> None:
        """``spectrum`` times the transfer function (its conjugate for the adjoint), in place."""
        if not self._transfer.is_complex():  # slower than a complex product, but half the memory
            torch.view_as_real(spectrum).mul_(self._transfer.unsqueeze(-1))
        elif self.symmetric or not adjoint:
            spectrum.mul_(self._transfer)
        else:  # Y·conj(H) as conj(conj(Y)·H): no conjugated copy of H
            spectrum.conj_physical_().mul_(self._transfer).conj_physical_()

    def _spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """A new ``rfftn`` of ``x`` (channels first, zero-padded to the grid): one FFT call for a small
        ``x``, plane by plane for a large one (no temporary of its size)."""
        if x.numel() <= WHOLE_TRANSFORM_ELEMENTS:
            return torch.fft.rfftn(x, s=self._grid, dim=self._spatial_dims)
        spectrum = torch.empty((*x.shape[: x.ndim - len(self._grid)], *self._half_grid), dtype=torch.complex64,
                               device=x.device)
        self._transform(x, spectrum)
        return spectrum

    # -- transforms plane by plane (no full-size temporaries; in place when the storage is shared) --
    def _transform(self, x: torch.Tensor, spectrum: torch.Tensor) -> None:
        """``spectrum ← rfftn(x)`` on the grid (x zero-padded); ``spectrum`` may share ``x``'s storage
        laid out as :meth:`scratch` lays it out (each plane is read before it is overwritten)."""
        spatial = len(self.spatial_shape)
        for index in np.ndindex(*x.shape[: x.ndim - 2]):
            spectrum[index].copy_(torch.fft.rfft2(x[index], s=self._grid[-2:]))
        if spatial == 3:
            spectrum.narrow(-3, x.shape[-3], self._grid[0] - x.shape[-3]).zero_()
            for index in np.ndindex(*spectrum.shape[: spectrum.ndim - 3]):
                for block in spectrum[index].split(self._block_rows, dim=1):
                    block.copy_(torch.fft.fft(block, dim=0))

    def _inverse(self, spectrum: torch.Tensor, out: torch.Tensor) -> None:
        """``out ← irfftn(spectrum)`` cropped to the spatial shape; ``spectrum`` is overwritten and may
        share ``out``'s storage."""
        if len(self.spatial_shape) == 3:
            for index in np.ndindex(*spectrum.shape[: spectrum.ndim - 3]):
                for block in spectrum[index].split(self._block_rows, dim=1):
                    block.copy_(torch.fft.ifft(block, dim=0))
        rows, columns = self.spatial_shape[-2:]
        for index in np.ndindex(*out.shape[: out.ndim - 2]):
            out[index].copy_(torch.fft.irfft2(spectrum[index], s=self._grid[-2:])[:rows, :columns])

    @property
    def _half_grid(self) -> tuple[int, ...]:
        return (*self._grid[:-1], self._grid[-1] // 2 + 1)

    @property
    def _channels(self) -> tuple[int, ...]:
        return () if self.channel_axis is None else (self.in_shape[self.channel_axis],)

    @property
    def _block_rows(self) -> int:
        """Rows per block of the FFT along the first of three spatial axes (:data:`BLOCK_ELEMENTS` per block)."""
        return max(1, BLOCK_ELEMENTS // (self._grid[0] * self._half_grid[-1]))

    def _image_view(self, spectrum: torch.Tensor) -> torch.Tensor:
        """The real image ``(..., *spatial_shape)`` in the memory of ``spectrum`` (``(..., *half grid)``)."""
        image = torch.view_as_real(spectrum).flatten(-2)
        for dim, n in zip(self._spatial_dims, self.spatial_shape):
            image = image.narrow(dim, 0, n)
        return image

    def _spectrum_of(self, image: torch.Tensor) -> torch.Tensor | None:
        """The spectrum sharing ``image``'s memory when ``image`` was made by :meth:`scratch`, else None."""
        shape = (*image.shape[: image.ndim - len(self.spatial_shape)], *self._half_grid)
        strides = [1] * len(shape)
        for dim in range(len(shape) - 2, -1, -1):
            strides[dim] = strides[dim + 1] * shape[dim + 1]
        if (image.dtype != torch.float32 or image.storage_offset() != 0
                or image.stride() != (*(2 * s for s in strides[:-1]), 1)
                or image.untyped_storage().nbytes() < 8 * math.prod(shape)):
            return None
        return torch.empty(0, dtype=torch.complex64, device=image.device).set_(
            image.untyped_storage(), 0, shape, strides)

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
