"""Forward finite differences (the discrete gradient used by total variation), adjoint = −divergence."""

from __future__ import annotations

import math

import torch

from .._shared.device import DTYPE
from .base import LinearOperator

BOUNDARIES = ("neumann", "periodic")


class Gradient(LinearOperator):
    """Discrete gradient by forward differences along chosen axes.

    ``forward(x)[..., i, *idx] = x[idx + e_a] - x[idx]`` for the ``i``-th axis ``a`` of ``axes``.
    With ``boundary="neumann"`` the difference at the last index of each axis is 0 (the image is
    extended by repeating its edge); with ``"periodic"`` it wraps to the first index. The adjoint is
    minus the matching divergence, the exact transpose of the forward map.

    Parameters
    ----------
    shape : tuple of int
        Shape of one image (the trailing axes of the input; leading axes are a batch).
    axes : sequence of int or None
        Axes of ``shape`` to differentiate along (negative values count from the end); None means all
        axes. For an RGB image pass the spatial axes only, e.g. ``(0, 1)`` for ``(512, 512, 3)``.
    boundary : {"neumann", "periodic"}
        How the last difference along each axis is formed.
    device : str, torch.device or None
        Device of the operator; None picks the best one.

    Notes
    -----
    Output shape ``(*batch, len(axes), *shape)``: one component per differentiated axis.
    """

    def __init__(self, shape, *, axes=None, boundary="neumann", device=None):
        shape = tuple(int(s) for s in shape)
        if boundary not in BOUNDARIES:
            raise ValueError(f"unknown boundary {boundary!r}; valid boundaries are {', '.join(BOUNDARIES)}")
        ndim = len(shape)
        axes = tuple(range(ndim)) if axes is None else tuple(int(a) for a in axes)
        if not axes:
            raise ValueError("axes is empty; give at least one axis to differentiate along")
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(f"axes {axes} out of range for shape {shape}")
        axes = tuple(a % ndim for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axes {axes} repeat an axis")
        super().__init__(shape, (len(axes), *shape), device=device)
        self.axes = axes
        self.boundary = boundary

    def forward(self, x):
        # each component is written into one preallocated output (no per-axis temporaries to stack)
        return self.forward_into(x, x.new_empty((*self.batch_shape(x), *self.out_shape)))

    def forward_into(self, x, out):
        ndim = len(self.in_shape)
        for i, a in enumerate(self.axes):
            self._difference_into(out.select(-ndim - 1, i), x, a - ndim)
        return out

    def adjoint(self, y):
        batch = self.batch_shape(y, self.out_shape)
        ndim = len(self.in_shape)
        out = y.new_zeros((*batch, *self.in_shape))
        for i, a in enumerate(self.axes):
            self._add_difference_adjoint(out, y.select(-ndim - 1, i), a - ndim)
        return out

    # -- a few planes at a time (for solvers that keep no full gradient field) --------------------
    def forward_planes(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """``∇x`` on the planes ``start:stop`` of the first axis of ``in_shape`` (``x`` whole): shape
        ``(*batch, len(axes), stop − start, *in_shape[1:])``, equal to that slice of :meth:`forward`."""
        batch = self.batch_shape(x)
        ndim, n = len(self.in_shape), self.in_shape[0]
        count = stop - start
        out = x.new_empty((*batch, len(self.axes), count, *self.in_shape[1:]))
        for i, a in enumerate(self.axes):
            target = out.select(-ndim - 1, i)
            if a != 0:
                self._difference_into(target, x.narrow(-ndim, start, count), a - ndim)
                continue
            inner = min(stop, n - 1) - start  # planes whose next plane is inside the image
            target.narrow(-ndim, 0, inner).copy_(x.narrow(-ndim, start + 1, inner)).sub_(x.narrow(-ndim, start, inner))
            if stop == n:
                last = target.narrow(-ndim, count - 1, 1)
                if self.boundary == "periodic":
                    last.copy_(x.narrow(-ndim, 0, 1)).sub_(x.narrow(-ndim, n - 1, 1))
                else:
                    last.zero_()
        return out

    def adjoint_planes_add(self, out: torch.Tensor, p: torch.Tensor, start: int) -> None:
        """``out += ∇ᵀp`` for a field ``p`` given on the planes ``start:start + m`` of the first axis
        (``p`` shaped as :meth:`forward_planes` returns, ``out`` whole, ``(*batch, *in_shape)``): summed
        over consecutive blocks of planes this is :meth:`adjoint`; it also writes the plane after them."""
        ndim, n = len(self.in_shape), self.in_shape[0]
        count = p.shape[-ndim]
        for i, a in enumerate(self.axes):
            component = p.select(-ndim - 1, i)
            if a != 0:
                self._add_difference_adjoint(out.narrow(-ndim, start, count), component, a - ndim)
                continue
            # (∇ᵀp)[k] = p[k−1] − p[k]; a Neumann difference at the last plane is fixed at 0, so its p counts as 0
            inner = min(start + count, n - 1) - start
            out.narrow(-ndim, start, inner).sub_(component.narrow(-ndim, 0, inner))
            out.narrow(-ndim, start + 1, inner).add_(component.narrow(-ndim, 0, inner))
            if start + count == n and self.boundary == "periodic":
                wrapped = component.narrow(-ndim, count - 1, 1)
                out.narrow(-ndim, n - 1, 1).sub_(wrapped)
                out.narrow(-ndim, 0, 1).add_(wrapped)

    def _difference_into(self, out: torch.Tensor, x: torch.Tensor, dim: int) -> None:
        """``out = D x`` along ``dim``: forward difference, last one zero (Neumann) or wrapped."""
        n = x.shape[dim]
        out.narrow(dim, 0, n - 1).copy_(x.narrow(dim, 1, n - 1)).sub_(x.narrow(dim, 0, n - 1))
        last = out.narrow(dim, n - 1, 1)
        if self.boundary == "periodic":
            last.copy_(x.narrow(dim, 0, 1)).sub_(x.narrow(dim, n - 1, 1))
        else:
            last.zero_()

    def _add_difference_adjoint(self, out: torch.Tensor, p: torch.Tensor, dim: int) -> None:
        """``out += Dᵀp`` along ``dim``: ``(Dᵀp)[k] = p[k−1] − p[k]``, indices wrapping when periodic;
        with Neumann boundaries ``p[n−1]`` (the difference fixed at zero) and ``p[−1]`` count as zero."""
        n = p.shape[dim]
        inner = p.narrow(dim, 0, n - 1)
        out.narrow(dim, 1, n - 1).add_(inner)
        out.narrow(dim, 0, n - 1).sub_(inner)
        if self.boundary == "periodic":
            wrapped = p.narrow(dim, n - 1, 1)
            out.narrow(dim, 0, 1).add_(wrapped)
            out.narrow(dim, n - 1, 1).sub_(wrapped)

    def gram_symbol(self) -> torch.Tensor:
        """Fourier symbol of ``DᵀD`` (the negative Laplacian) for ``boundary="periodic"``.

        Returns
        -------
        torch.Tensor
            Real float32 tensor on the ``rfftn`` grid over ``axes`` (in increasing order):
            shape ``(*[shape[a] for a in axes[:-1]], shape[axes[-1]] // 2 + 1)``, value
            ``Σ_a 4 sin²(π k_a / n_a)``. With ``axes`` = the spatial axes it has the grid of
            :attr:`Convolution.otf`, so ``|otf|² + λ · gram_symbol()`` is the symbol of ``HᵀH + λDᵀD``.

        Raises
        ------
        ValueError
            If the boundary is not periodic (Neumann differences are not diagonal in Fourier space).
        """
        if self.boundary != "periodic":
            raise ValueError(
                f"gram_symbol needs boundary='periodic'; boundary={self.boundary!r} is not diagonal in "
                "Fourier space"
            )
        axes = sorted(self.axes)
        sizes = [self.in_shape[a] for a in axes]
        symbol = torch.zeros(
            (*sizes[:-1], sizes[-1] // 2 + 1), dtype=DTYPE, device=self.device
        )
        for i, n in enumerate(sizes):
            k = torch.arange(symbol.shape[i], dtype=torch.float64)
            values = (4 * torch.sin(math.pi * k / n) ** 2).to(DTYPE).to(self.device)
            view = [1] * symbol.ndim
            view[i] = -1
            symbol = symbol + values.reshape(view)
        return symbol
