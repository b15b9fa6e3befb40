"""The parallel-beam projector (2D Radon transform) as a cached sparse system matrix.

Model
-----
Each pixel is a unit square of constant value. Seen from angle ``θ`` its line integrals, as a
function of the detector coordinate, form a trapezoid (the convolution of two boxes of widths
``|cos θ|`` and ``|sin θ|``) of area 1; the matrix entry for a pixel and a detector bin is the exact
integral of that trapezoid over the bin (the *separable-footprint* model). For a piecewise-constant
image the model is therefore exact: it returns the bin-averaged line integrals of that image. On the
pixel-averaged Shepp-Logan phantom (256x256, 180 angles) it is 0.71 % (relative L2) from the
continuous phantom's exact bin-averaged line integrals (``skimage.transform.radon``: 0.72 %); see
:mod:`napari_invprob.phantom`.

Geometry (as :func:`skimage.transform.radon`): a slice ``(rows, cols)`` rotates about the centre of
pixel ``(rows // 2, cols // 2)``; the detector bin ``k`` is centred at ``k - n_detector // 2`` pixels
from the rotation centre; a pixel at column offset ``x`` and row offset ``y`` from the centre projects
to ``t = x cos θ - y sin θ``, so at ``θ = 0`` the projector sums along the rows (axis 0). The
sinogram is ``(n_angles, n_detector)``, the transpose of scikit-image's layout.

The forward and adjoint are sparse matrix products applied to the whole batch of slices at once. On the
CPU one matrix serves both directions: the transpose ``Aᵀ`` (pixels × bins) is kept in CSR form once,
the adjoint is torch's CSR product with it and the forward is SciPy's product with its transpose view
(a CSC matrix over the same arrays), so the projector holds half the bytes of a matrix and its
transpose (77 angles of 256: 1.4 instead of 2.8 times a 256³ volume) for a forward about 1.3 times as
slow. On CUDA both orientations are kept, as cuSPARSE wants.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import os
import threading
import warnings

import numpy as np
import scipy.sparse
import torch

from .._shared.device import DTYPE
from .._shared.memory import release_freed_memory
from .base import LinearOperator

_CHUNK_ELEMENTS = 1 << 16  # pixel-angle pairs evaluated at once (small enough to stay in cache)
_CACHE_BYTES = 2 << 30  # system matrices kept per process (256x256, 180 angles: 0.2 GB on the CPU)


#: More angles than this, all within ±π/2, look like radians given for degrees (a warning says so).
RADIANS_WARNING_MIN_ANGLES = 3


def validate_angles(angles_deg, *, name: str = "angles") -> np.ndarray:
    """Check projection angles and return them as a float64 array in degrees.

    The one check of angles that every call taking them passes through (reconstruct, project, the
    command line, the distributed calls, the widgets).

    Parameters
    ----------
    angles_deg : array-like
        Projection angles in degrees: a 1D sequence of at least one finite number, in any order, no
        angle repeated (modulo 360°).
    name : str
        What to call the angles in error messages.

    Returns
    -------
    numpy.ndarray
        A new float64 array of the angles.

    Raises
    ------
    TypeError
        If the angles are not real numbers.
    ValueError
        If they are not 1D, are empty, contain NaN or Inf, or repeat an angle (modulo 360°).

    Warns
    -----
    UserWarning
        If there are more than :data:`RADIANS_WARNING_MIN_ANGLES` angles and all lie within ±90° as
        radians would (``|angle| <= π/2``): angles are in degrees everywhere in napari-invprob.
    """
    arr = _finite_angles(angles_deg, name)
    wrapped = np.round(np.mod(arr, 360.0), 9) % 360.0
    values, counts = np.unique(wrapped, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"{name} contain repeated projection angles (modulo 360°): "
                         f"{values[counts > 1].tolist()}; give each angle once")
    if arr.size > RADIANS_WARNING_MIN_ANGLES and np.abs(arr).max() <= np.pi / 2:
        warnings.warn(
            f"all {arr.size} {name} lie within ±{np.abs(arr).max():.3g}°, as angles in radians would: angles are "
            "in degrees (convert radians with numpy.rad2deg)",
            UserWarning, stacklevel=3,
        )
    return arr


def _finite_angles(angles_deg, name: str) -> np.ndarray:
    """The angles as a new float64 array: real, 1D, not empty, finite."""
    arr = np.asarray(angles_deg)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers (degrees), got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1D sequence of degrees, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; give at least one projection angle")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or Inf values")
    return arr.astype(np.float64, copy=True)


def _footprint_cdf(v: np.ndarray, wide: np.ndarray, narrow: np.ndarray) -> np.ndarray:
    """Cumulative integral of a unit pixel's projected footprint at offset ``v`` from its centre.

    The footprint is the convolution of boxes of widths ``wide >= narrow`` (a trapezoid of area 1
    with a plateau ``1 / wide`` high). With ``p, q = (wide ± narrow) / 2`` its integral up to ``v`` is
    ``(v + wide / 2) / wide`` on the plateau ``|v| <= q``, ``(v + p)² / (2 · wide · narrow)`` on the
    rising edge and ``1 - (p - v)² / (2 · wide · narrow)`` on the falling one: no cancellation, and
    a box (``narrow = 0``) needs no special case.
    """
    p = 0.5 * (wide + narrow)
    q = 0.5 * (wide - narrow)
    curvature = 0.5 / (wide * np.maximum(narrow, 1e-30))
    cdf = np.clip((v + 0.5 * wide) / wide, 0.0, 1.0)
    rising = (v > -p) & (v < -q)
    falling = (v > q) & (v < p)
    cdf = np.where(rising, np.square(v + p) * curvature, cdf)
    return np.where(falling, 1.0 - np.square(p - v) * curvature, cdf)


def _system_matrix_transpose(
    shape: tuple[int, int], angles_rad: np.ndarray, n_detector: int
) -> scipy.sparse.csr_matrix:
    """The transpose of the separable-footprint system matrix, ``(rows · cols, n_angles · n_detector)``.

    Built row by row (pixel by pixel): each pixel meets at most three consecutive bins per angle, so
    its entries come out already sorted by column and the CSR arrays are written directly.
    """
    rows, cols = shape
    n_angles = len(angles_rad)
    cos, sin = np.cos(angles_rad), np.sin(angles_rad)
    wide = np.maximum(np.abs(cos), np.abs(sin))
    narrow = np.minimum(np.abs(cos), np.abs(sin))
    wide32, narrow32 = wide.astype(np.float32), narrow.astype(np.float32)
    pixel_x = np.tile(np.arange(cols) - cols // 2, rows).astype(np.float64)
    pixel_y = np.repeat(np.arange(rows) - rows // 2, cols).astype(np.float64)
    first_column = (np.arange(n_angles, dtype=np.int32) * n_detector)[:, None]

    def entries(start):
        px, py = pixel_x[start : start + chunk, None], pixel_y[start : start + chunk, None]
        # detector position of each pixel centre, in bins (bin k is centred at k)
        u = px * cos - py * sin + n_detector // 2
        # the footprint (width <= sqrt 2) meets at most three bins, the first holding its left edge:
        # its cumulative integral is 0 at that bin's lower edge and 1 at the third bin's upper edge,
        # so only the two inner edges need evaluating (float32 is exact to ~1e-7 on these offsets)
        first = np.floor(u - 0.5 * (wide + narrow) + 0.5)
        inner_edges = (first - u + 0.5)[..., None] + np.array([0.0, 1.0])
        cdf = _footprint_cdf(inner_edges.astype(np.float32), wide32[:, None], narrow32[:, None])
        weight = np.concatenate([cdf[..., :1], cdf[..., 1:] - cdf[..., :1], 1.0 - cdf[..., 1:]], axis=-1)
        k = first.astype(np.int32)[..., None] + np.arange(3, dtype=np.int32)
        keep = (weight > 1e-6) & (k >= 0) & (k < n_detector)
        # columns (angle, bin) ascend within each pixel's row; they fit int32 (< n_angles · n_detector)
        return keep.sum(axis=(1, 2)), (first_column + k)[keep], weight[keep]

    chunk = max(1, _CHUNK_ELEMENTS // n_angles)
    # NumPy releases the GIL in its loops, so threads share the work across the cores
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts, indices, values = zip(*pool.map(entries, range(0, rows * cols, chunk)))
    counts = np.concatenate(counts)
    index = np.int32 if counts.sum() < np.iinfo(np.int32).max else np.int64
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index)
    values, indices = np.concatenate(values), np.concatenate(indices).astype(index, copy=False)
    return scipy.sparse.csr_matrix(
        (values, indices, indptr), shape=(rows * cols, n_angles * n_detector), copy=False
    )


def _to_torch_csr(matrix: scipy.sparse.csr_matrix, device: torch.device) -> torch.Tensor:
    """The matrix as a torch CSR tensor; on the CPU it shares the SciPy matrix's arrays (no copy)."""
    # 32-bit indices where they fit: the CPU (MKL) sparse products are several times faster with them
    index = np.int32 if matrix.nnz < np.iinfo(np.int32).max else np.int64
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(index, copy=False)),
            torch.from_numpy(matrix.indices.astype(index, copy=False)),
            torch.from_numpy(matrix.data.astype(np.float32, copy=False)),
            size=matrix.shape,
            dtype=DTYPE,
            check_invariants=False,
        ).to(device)


def _torch_product(matrix: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``matrix @ columns`` for a torch CSR matrix; a single column goes through the faster ``mv``."""
    if columns.shape[1] == 1:
        return torch.mv(matrix, columns[:, 0]).unsqueeze(1)
    return torch.sparse.mm(matrix, columns)


def _row_blocks(matrix: scipy.sparse.csr_matrix, n: int) -> list[tuple[int, int, scipy.sparse.csc_matrix]]:
    """``matrix`` cut into ``n`` bands of rows with about as many entries each, as ``(first row, end row,
    band transposed)``; the bands share the matrix's entries (views), only their pointers are new."""
    cuts = np.searchsorted(matrix.indptr, np.linspace(0, matrix.nnz, n + 1)[1:-1])
    bounds = [0, *cuts.tolist(), matrix.shape[0]]
    blocks = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        s, e = matrix.indptr[a], matrix.indptr[b]
        blocks.append((a, b, _csc_view(matrix.data[s:e], matrix.indices[s:e], matrix.indptr[a : b + 1] - s,
                                       (matrix.shape[1], b - a))))
    return blocks


def _csc_view(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> scipy.sparse.csc_matrix:
    """A CSC matrix over these arrays as they are. SciPy's constructor copies an array that is a view of
    less than half of a larger one (``_prune_array``), which is what a band of rows is: with two threads
    the forward projection held a second copy of half the system matrix (0.66 times a 256³ volume)."""
    view = scipy.sparse.csc_matrix(shape, dtype=data.dtype)
    view.data, view.indices, view.indptr = data, indices, indptr
    return view


def _transposed_product(system: _System, columns: torch.Tensor) -> torch.Tensor:
    """``Aᵀᵀ @ columns`` by SciPy's CSC product (which releases the GIL). With several torch threads the
    rows of ``Aᵀ`` (the pixels) are split between them and their partial projections summed: every
    thread then sees all the columns, which keeps SciPy's inner loop long."""
    array = columns.detach().numpy()
    workers = torch.get_num_threads()
    if workers <= 1:
        return torch.from_numpy(system.scipy_transpose.T @ array)
    blocks = system.row_blocks(workers)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda block: block[2] @ array[block[0] : block[1]], blocks))
    total = parts[0]
    for part in parts[1:]:
        total += part
    return torch.from_numpy(total)


def _matrix_device(device: torch.device) -> torch.device:
    """Where the sparse products can run: the device itself for CPU and CUDA; the CPU otherwise
    (PyTorch's MPS backend has no sparse CSR tensors yet), the data moving there and back."""
    return device if device.type in ("cpu", "cuda") else torch.device("cpu")


@dataclasses.dataclass
class _System:
    """One geometry's system matrix and its spectral norm once known.

    ``transpose`` (``Aᵀ``, pixels × bins, torch CSR) serves the adjoint everywhere. The forward uses
    ``matrix`` (``A`` in torch CSR) where one is kept (CUDA), else SciPy's CSC view of the transpose's
    own arrays (``scipy_transpose.T``: no second copy of the entries).
    """

    transpose: torch.Tensor
    matrix: torch.Tensor | None
    scipy_transpose: scipy.sparse.csr_matrix | None
    norm: float | None = None
    _blocks: dict = dataclasses.field(default_factory=dict, repr=False)

    def row_blocks(self, n: int) -> list[tuple[int, int, scipy.sparse.csc_matrix]]:
        """The transpose cut into ``n`` bands of rows, each transposed (:func:`_row_blocks`), made once
        per ``n``."""
        if n not in self._blocks:
            self._blocks[n] = _row_blocks(self.scipy_transpose, n)
        return self._blocks[n]

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored matrices."""
        stored = [m for m in (self.transpose, self.matrix) if m is not None]
        return sum(t.numel() * t.element_size() for m in stored
                   for t in (m.values(), m.col_indices(), m.crow_indices()))

    @property
    def nnz(self) -> int:
        """Number of non-zero entries of ``A``."""
        return int(self.transpose.values().numel())

    def forward(self, columns: torch.Tensor) -> torch.Tensor:
        """``A @ columns``."""
        if self.matrix is not None:
            return _torch_product(self.matrix, columns)
        return _transposed_product(self, columns)

    def adjoint(self, columns: torch.Tensor) -> torch.Tensor:
        """``Aᵀ @ columns``."""
        return _torch_product(self.transpose, columns)


_cache: collections.OrderedDict[tuple, _System] = collections.OrderedDict()
_cache_lock = threading.Lock()


def _cached_system(shape, angles_deg: np.ndarray, n_detector: int, device: torch.device) -> _System:
    """The system of one geometry, built on first use and kept in a least-recently-used cache that
    holds at most ``_CACHE_BYTES`` (beyond the newest entry, which is always kept)."""
    key = (shape, tuple(angles_deg.tolist()), n_detector, device)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        transpose = _system_matrix_transpose(shape, np.deg2rad(angles_deg), n_detector)
        release_freed_memory()  # the build's pieces, freed in its worker threads' heaps
        if device.type == "cpu":
            system = _System(_to_torch_csr(transpose, device), None, transpose)
        else:
            system = _System(_to_torch_csr(transpose, device), _to_torch_csr(transpose.T.tocsr(), device), None)
        _cache[key] = system
        while len(_cache) > 1 and sum(entry.nbytes for entry in _cache.values()) > _CACHE_BYTES:
            _cache.popitem(last=False)
        return system


class _Product(torch.autograd.Function):
    """``A @ X`` (``adjoint`` False) or ``Aᵀ @ X``, whose gradient is the other product (exact and fast
    under autograd)."""

    @staticmethod
    def forward(ctx, columns, system, adjoint):
        ctx.system, ctx.adjoint = system, adjoint
        return system.adjoint(columns) if adjoint else system.forward(columns)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        return (ctx.system.forward(grad) if ctx.adjoint else ctx.system.adjoint(grad)), None, None


class ParallelBeamProjector(LinearOperator):
    """Parallel-beam projection of 2D slices at given angles, with its exact transpose.

    Parameters
    ----------
    shape : tuple of int
        Shape ``(rows, cols)`` of one slice (square or not; a tilt-series slice is
        ``(thickness, width)``).
    angles_deg : array-like
        Projection angles in degrees, in any order.
    n_detector : int, optional
        Number of detector bins; defaults to ``cols`` (for a square image, the size of
        ``skimage.transform.radon(..., circle=True)``).
    device : str, torch.device or None
        Where the system matrix lives and the products run.

    Notes
    -----
    Input ``(*batch, rows, cols)``, output ``(*batch, n_angles, n_detector)``. The system matrix is
    built once per geometry and device (vectorised NumPy) and kept in an in-memory LRU cache of at
    most 2 GB.
    On Apple MPS, which has no sparse CSR support in PyTorch, the products run on the CPU.
    See the module docstring for the model and the geometry conventions.
    """

    def __init__(self, shape, angles_deg, *, n_detector=None, device=None):
        shape = tuple(shape)
        if len(shape) != 2 or any(int(s) != s or s < 1 for s in shape):
            raise ValueError(f"shape must be two positive integers (rows, cols), got {shape}")
        shape = (int(shape[0]), int(shape[1]))
        self.angles_deg = _finite_angles(angles_deg, "angles")
        if n_detector is None:
            n_detector = shape[1]
        if int(n_detector) != n_detector or n_detector < 1:
            raise ValueError(f"n_detector must be a positive integer, got {n_detector}")
        self.n_detector = int(n_detector)
        super().__init__(shape, (len(self.angles_deg), self.n_detector), device=device)
        self._system = _cached_system(shape, self.angles_deg, self.n_detector, _matrix_device(self.device))

    @property
    def nnz(self) -> int:
        """Number of non-zero entries of the system matrix."""
        return self._system.nnz

    def norm(self, **kwargs) -> float:
        """Spectral norm by power iteration (see :meth:`LinearOperator.norm`), shared by every
        projector of the same geometry, so a new solve on the same angles does not repeat it."""
        if self._system.norm is None:
            self._system.norm = super().norm(**kwargs)
        return self._system.norm

    def _apply(self, x, adjoint, core_in, core_out):
        batch = self.batch_shape(x, core_in)
        n_in = int(np.prod(core_in))
        columns = x.reshape(-1, n_in).T.contiguous().to(self._system.transpose.device)
        out = _Product.apply(columns, self._system, adjoint)
        return out.T.reshape(*batch, *core_out).to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._apply(x, False, self.in_shape, self.out_shape)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self._apply(y, True, self.out_shape, self.in_shape)

    def __repr__(self) -> str:
        return (
            f"ParallelBeamProjector(shape={self.in_shape}, n_angles={len(self.angles_deg)}, "
            f"n_detector={self.n_detector})"
        )
