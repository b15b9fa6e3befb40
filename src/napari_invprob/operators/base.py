"""The linear-operator algebra every forward model is built on.

A :class:`LinearOperator` maps tensors whose trailing axes have shape ``in_shape`` to tensors whose
trailing axes have shape ``out_shape``; any leading axes are a batch, handled independently. Each
concrete operator implements :meth:`~LinearOperator.forward` and :meth:`~LinearOperator.adjoint` side
by side, and the pair must pass :func:`napari_invprob.testing.adjoint_test`.

Operators combine like matrices: ``A @ B`` (composition), ``c * A`` (scaling), ``A + B`` and
``A - B`` (sums), ``A.H`` (adjoint), and ``A.norm()`` is the spectral norm by power iteration.
"""

from __future__ import annotations

import math
from numbers import Real

import torch

from .._shared.device import DTYPE, resolve_device


class LinearOperator:
    """Base class of linear operators on float32 tensors, batched over leading axes.

    Parameters
    ----------
    in_shape : tuple of int
        Shape of one input (the trailing axes of ``x``).
    out_shape : tuple of int
        Shape of one output (the trailing axes of ``forward(x)``).
    device : str, torch.device or None
        Device of the operator's internal tensors; None picks the best available one.
    """

    def __init__(self, in_shape, out_shape, *, device=None):
        self.in_shape = tuple(int(s) for s in in_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.device = resolve_device(device)
        self._norm: float | None = None

    # -- to be implemented by each operator -----------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the operator: ``x`` of shape ``(*batch, *in_shape)`` -> ``(*batch, *out_shape)``."""
        raise NotImplementedError

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the adjoint: ``y`` of shape ``(*batch, *out_shape)`` -> ``(*batch, *in_shape)``."""
        raise NotImplementedError

    # -- in place, for solvers that keep few full-size buffers ------------------------------------
    def forward_into(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out ← A x`` and return ``out`` (shaped like ``forward(x)``; it may be ``x`` itself when the
        shapes agree). Operators that can work without a temporary of the output's size override it."""
        return out.copy_(self.forward(x))

    def adjoint_into(self, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``out ← Aᴴ y`` and return ``out``, as :meth:`forward_into`."""
        return out.copy_(self.adjoint(y))

    def adjoint_ones(self) -> torch.Tensor:
        """``Aᴴ1`` (the column sums of ``A``; Richardson-Lucy's normalisation), a tensor that broadcasts
        against ``(*batch, *in_shape)``: one number where the operator knows it is constant."""
        return self.adjoint(torch.ones(self.out_shape, dtype=DTYPE, device=self.device))

    def scratch(self, batch: tuple[int, ...] = ()) -> torch.Tensor:
        """A zeroed tensor ``(*batch, *out_shape)`` laid out for :meth:`forward_into` and
        :meth:`adjoint_into` to work in (e.g. with room for a convolution's spectrum)."""
        return torch.zeros((*batch, *self.out_shape), dtype=DTYPE, device=self.device)

    # -- algebra ---------------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    @property
    def H(self) -> LinearOperator:  # noqa: N802 - the usual mathematical name
        """The adjoint operator (conjugate transpose; the transpose, as all data are real)."""
        return _Adjoint(self)

    @property
    def T(self) -> LinearOperator:  # noqa: N802
        """Alias of :attr:`H` for real-valued operators."""
        return self.H

    def __matmul__(self, other):
        if isinstance(other, LinearOperator):
            return _Composition(self, other)
        if isinstance(other, torch.Tensor):
            return self.forward(other)
        return NotImplemented

    def __mul__(self, scalar):
        if isinstance(scalar, Real):
            return _Scaled(self, float(scalar))
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        if isinstance(scalar, Real):
            return _Scaled(self, 1.0 / float(scalar))
        return NotImplemented

    def __neg__(self):
        return _Scaled(self, -1.0)

    def __add__(self, other):
        if isinstance(other, LinearOperator):
            return _Sum(self, other)
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, LinearOperator):
            return _Sum(self, _Scaled(other, -1.0))
        return NotImplemented

    # -- helpers ---------------------------------------------------------------------------------
    def batch_shape(self, x: torch.Tensor, core_shape: tuple[int, ...] | None = None) -> tuple[int, ...]:
        """Return the leading (batch) axes of ``x``, checking its trailing axes against ``core_shape``.

        ``core_shape`` defaults to :attr:`in_shape`. Raises ``ValueError`` on a mismatch.
        """
        core = self.in_shape if core_shape is None else tuple(core_shape)
        n = len(core)
        if x.ndim < n or tuple(x.shape[x.ndim - n :]) != core:
            raise ValueError(
                f"{type(self).__name__} expects trailing axes of shape {core}, got a tensor of shape "
                f"{tuple(x.shape)}"
            )
        return tuple(x.shape[: x.ndim - n])

    def norm(self, *, n_iter: int = 200, rtol: float = 1e-5, seed: int = 0) -> float:
        """Spectral norm ``‖A‖₂`` by power iteration on ``AᴴA`` (computed once, then cached).

        Parameters
        ----------
        n_iter : int
            Maximum number of power iterations.
        rtol : float
            Stop when the estimate changes by less than this relative amount.
        seed : int
            Seed of the random start vector, so the estimate is reproducible.

        Returns
        -------
        float
            The estimate, which approaches ``‖A‖₂`` from below; solvers that need a Lipschitz constant
            add a small safety margin.
        """
        if self._norm is None:
            gen = torch.Generator().manual_seed(seed)
            x = torch.randn(self.in_shape, generator=gen, dtype=DTYPE).to(self.device)
            x /= torch.linalg.vector_norm(x)
            estimate = 0.0
            for _ in range(n_iter):
                x = self.adjoint(self.forward(x))
                value = float(torch.linalg.vector_norm(x))
                if value == 0.0:
                    break
                x /= value
                converged = abs(value - estimate) <= rtol * value
                estimate = value
                if converged:
                    break
            self._norm = math.sqrt(estimate)
        return self._norm

    def __repr__(self) -> str:
        return f"{type(self).__name__}(in_shape={self.in_shape}, out_shape={self.out_shape})"


class Identity(LinearOperator):
    """The identity on tensors whose trailing axes have shape ``shape``."""

    def __init__(self, shape, *, device=None):
        super().__init__(shape, shape, device=device)

    def forward(self, x):
        return x

    def adjoint(self, y):
        return y

    def norm(self, **kwargs) -> float:
        return 1.0


class _Adjoint(LinearOperator):
    def __init__(self, op: LinearOperator):
        super().__init__(op.out_shape, op.in_shape, device=op.device)
        self.op = op

    def forward(self, x):
        return self.op.adjoint(x)

    def adjoint(self, y):
        return self.op.forward(y)

    @property
    def H(self):  # noqa: N802
        return self.op

    def norm(self, **kwargs) -> float:
        return self.op.norm(**kwargs)


class _Composition(LinearOperator):
    def __init__(self, outer: LinearOperator, inner: LinearOperator):
        if outer.in_shape != inner.out_shape:
            raise ValueError(
                f"cannot compose: the left operator takes {outer.in_shape}, the right one gives "
                f"{inner.out_shape}"
            )
        super().__init__(inner.in_shape, outer.out_shape, device=outer.device)
        self.outer, self.inner = outer, inner

    def forward(self, x):
        return self.outer.forward(self.inner.forward(x))

    def adjoint(self, y):
        return self.inner.adjoint(self.outer.adjoint(y))


class _Scaled(LinearOperator):
    def __init__(self, op: LinearOperator, scale: float):
        super().__init__(op.in_shape, op.out_shape, device=op.device)
        self.op, self.scale = op, scale

    def forward(self, x):
        return self.scale * self.op.forward(x)

    def adjoint(self, y):
        return self.scale * self.op.adjoint(y)

    def norm(self, **kwargs) -> float:
        return abs(self.scale) * self.op.norm(**kwargs)


class _Sum(LinearOperator):
    def __init__(self, first: LinearOperator, second: LinearOperator):
        if (first.in_shape, first.out_shape) != (second.in_shape, second.out_shape):
            raise ValueError(
                f"cannot add operators of shapes {first.in_shape}->{first.out_shape} and "
                f"{second.in_shape}->{second.out_shape}"
            )
        super().__init__(first.in_shape, first.out_shape, device=first.device)
        self.first, self.second = first, second

    def forward(self, x):
        return self.first.forward(x) + self.second.forward(x)

    def adjoint(self, y):
        return self.first.adjoint(y) + self.second.adjoint(y)
