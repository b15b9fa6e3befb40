"""Coarse-to-fine total variation for tilt series: the same problem solved on binned data first.

A TV reconstruction of a 77 × 256 × 256 tilt series spends nearly all its time in the projections, and
a projection on data binned 2× (per slice 2× fewer detector bins and rows, and 2× fewer slices) costs
an eighth. :func:`coarse_to_fine_tv` therefore solves the problem on 4×- and 2×-binned data first and
carries the whole primal-dual state — the estimate and both duals — to the next finer grid, where the
iterations go on from there instead of restarting:

- data: ``[¼ ½ ¼]``-binned along the detector and the slices (exact for bin-averaged line integrals),
  divided by 2 (line integrals in pixels of twice the size);
- λ: divided by 4 per level (the data term of a binned slice weighs 1/8, its TV 1/2);
- estimate and duals: linear interpolation back to the finer grid, the data dual doubled and the TV
  dual scaled by the λ ratio (then projected on the finer λ-ball).

Coarse samples sit on the fine samples of the parity of ``n // 2``, so the rotation centre (pixel
``n // 2``, :class:`~napari_invprob.operators.ParallelBeamProjector`) is a sample on every level.

Measured (one Shepp–Logan slice, exact projections, 77 angles over ±76°, 1 % noise, λ = 0.05): 150
iterations split 45/45/60 over three levels reach 32.99 dB, the full-resolution solver 32.91 dB in 150
iterations (over-relaxed: 33.04 dB), for the cost of 66 full-resolution iterations.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from ..operators import ParallelBeamProjector
from ..solvers.base import Iterate
from ..solvers.pdhg import Duals, _project_dual_ball_, pdhg_tv

#: λ of a level is λ of the next finer one divided by this (see the module notes).
LAM_RATIO = 4.0
#: Share of the iterations spent at full resolution; the coarser levels share the rest equally.
FINE_SHARE = 0.4
#: A level is only added while its grid keeps at least this many detector bins.
MIN_COARSE_BINS = 32


def coarse_size(n: int) -> int:
    """Samples of an axis of ``n`` after binning 2×: the fine samples of the parity of ``n // 2``."""
    return (n - 1 - (n // 2) % 2) // 2 + 1


def halve(t: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Bin ``t`` 2× along ``dims`` with the weights ``[¼ ½ ¼]`` around every kept sample.

    The kept samples are those of the parity of ``n // 2`` (edges replicated), so for bin-averaged data
    each coarse value is the average over a bin twice as wide centred on it.
    """
    for dim in dims:
        n = t.shape[dim]
        start = (n // 2) % 2
        m = coarse_size(n)
        padded = torch.cat([t.narrow(dim, 0, 1), t, t.narrow(dim, n - 1, 1)], dim)
        # padded[i + 1] is t[i]: the centres are padded[start + 1 + 2j], their neighbours ±1
        taps = [padded.narrow(dim, start + offset, 2 * m - 1)[_every_other(dim, padded.dim())] for offset in (0, 1, 2)]
        t = taps[1].mul(0.5).add_(taps[0], alpha=0.25).add_(taps[2], alpha=0.25)
    return t


def _every_other(dim: int, ndim: int) -> tuple:
    index = [slice(None)] * ndim
    index[dim] = slice(None, None, 2)
    return tuple(index)


def double(t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Linear interpolation of ``t`` (the trailing axes binned by :func:`halve`) back to ``shape``.

    ``shape`` gives the fine size of each of the last ``len(shape)`` (one to three) axes; an axis whose
    size is unchanged is left as it is. Fine samples beyond the first and last coarse ones take their
    value (replicated edges).
    """
    k = len(shape)
    lead = t.shape[:-k]
    grid = t.reshape(1, -1, *t.shape[-k:])
    sizes = [2 * c - 1 if c != n else n for c, n in zip(t.shape[-k:], shape)]
    mode = ("linear", "bilinear", "trilinear")[k - 1]
    grid = F.interpolate(grid, size=sizes, mode=mode, align_corners=True)
    pad = []
    for c, n in reversed(list(zip(t.shape[-k:], shape))):
        before = 0 if c == n else (n // 2) % 2
        pad += [before, n - before - (2 * c - 1 if c != n else n)]
    if any(pad):
        grid = F.pad(grid, pad, mode="replicate")
    return grid.reshape(*lead, *shape)


def coarser(problem):
    """The problem on data binned 2× along the detector and the slices, with its own projector.

    ``problem`` is a :class:`~napari_invprob.tomography.reconstruct.TomographyProblem` (or anything with
    ``projector``, ``data`` and ``angles`` fields that :func:`dataclasses.replace` can copy).
    """
    rows, cols = problem.projector.in_shape
    projector = ParallelBeamProjector(
        (coarse_size(rows), coarse_size(cols)), problem.angles,
        n_detector=coarse_size(problem.projector.n_detector), device=problem.projector.device,
    )
    data = halve(problem.data, (0, -1)).div_(2.0)  # line integrals in pixels twice as long
    return dataclasses.replace(problem, projector=projector, data=data)


def level_iterations(n_iter: int, levels: int) -> list[int]:
    """Iterations per level, coarsest first: :data:`FINE_SHARE` of them (at least one) at full
    resolution, the rest shared equally by the coarser levels (the coarsest takes the remainder)."""
    if levels == 1:
        return [n_iter]
    fine = max(1, math.ceil(FINE_SHARE * n_iter))
    rest = n_iter - fine
    coarse = [rest // (levels - 1)] * (levels - 1)
    coarse[0] += rest - sum(coarse)
    return [*coarse, fine]


def useful_levels(problem, levels: int) -> int:
    """``levels``, fewer if binning would leave fewer than :data:`MIN_COARSE_BINS` detector bins."""
    return _levels_for(problem.projector.n_detector, levels)


def _levels_for(n_detector: int, levels: int) -> int:
    usable = 1
    while usable < levels and coarse_size(n_detector) >= MIN_COARSE_BINS:
        n_detector = coarse_size(n_detector)
        usable += 1
    return usable


def full_resolution_iterations(n_iter: int, levels: int, n_detector: int) -> float:
    """The work of :func:`coarse_to_fine_tv` in iterations at full resolution: a level binned ``k``
    times costs ``8⁻ᵏ`` of one (a quarter of the pixels and half the slices per binning)."""
    schedule = level_iterations(n_iter, _levels_for(n_detector, levels))
    return sum(count / 8.0 ** (len(schedule) - 1 - level) for level, count in enumerate(schedule))


def coarse_to_fine_tv(
    problem, *, lam: float, n_iter: int, levels: int = 3, nonneg: bool = True, step_ratio: float = 3.0,
    relaxation: float = 1.8,
) -> Iterator[Iterate]:
    """TV reconstruction of a chunk of slices by :func:`~napari_invprob.solvers.pdhg.pdhg_tv`, coarse to fine.

    Parameters
    ----------
    problem : TomographyProblem
        The chunk at full resolution (its weighted operator and data define the objective).
    lam : float
        λ of the full-resolution problem.
    n_iter : int
        Iterations in all (one yield each), split by :func:`level_iterations`.
    levels : int
        Resolution levels (1: full resolution only; fewer are used when binning would leave fewer
        than :data:`MIN_COARSE_BINS` detector bins).
    nonneg, step_ratio, relaxation
        As :func:`~napari_invprob.solvers.pdhg.pdhg_tv`.

    Yields
    ------
    Iterate
        Every iterate at full resolution: coarse ones interpolated to it, with ``objective`` None (it
        belongs to the binned problem) and ``residual`` their level's ``‖Ax − y‖`` scaled to full
        resolution (× 2 per level for the pixel length, × the square root of the data's size ratio for
        the number of elements: an estimate, so a plot shows progress from the first iteration);
        full-resolution ones as ``pdhg_tv``
        yields them, numbered on from the coarse ones. The level starts from the non-negative part of the
        Hann-filtered back-projection of the coarsest data.
    """
    chain = [problem]
    for _ in range(useful_levels(problem, levels) - 1):
        chain.append(coarser(chain[-1]))
    chain.reverse()  # coarsest first
    schedule = level_iterations(n_iter, len(chain))
    shapes = [tuple(stage.data.shape[:1]) + stage.projector.in_shape for stage in chain]
    x = duals = None
    done = 0
    for level, (stage, count) in enumerate(zip(chain, schedule)):
        if count == 0:
            continue
        level_lam = lam / LAM_RATIO ** (len(chain) - 1 - level)
        if x is None:
            x = stage.start(None)
            duals = Duals.zeros(stage.y, stage.gradient.forward(x))
        else:
            x, duals = double(x, shapes[level]), _finer_duals(duals, stage, level_lam)
        solver = pdhg_tv(stage.op, stage.y, lam=level_lam, n_iter=count, x0=x, nonneg=nonneg,
                         gradient=stage.gradient, step_ratio=step_ratio, relaxation=relaxation, duals=duals)
        last_level = stage is problem
        # a coarse level's ‖Ax − y‖ at full resolution: its line integrals are in pixels 2^k times as long,
        # over a fraction of the data's elements (the RMS per element kept), so the plot is never empty
        scale = 2.0 ** (len(chain) - 1 - level) * math.sqrt(problem.y.numel() / stage.y.numel())
        for it in solver:
            x = it.x
            done += 1
            if last_level:
                yield dataclasses.replace(it, iteration=done)
            else:
                residual = None if it.residual is None else it.residual * scale
                yield Iterate(done, _to_full_size(x, shapes[level + 1:]), None, residual, it.elapsed)


def _to_full_size(x: torch.Tensor, finer_shapes: list[tuple[int, ...]]) -> torch.Tensor:
    """A coarse estimate interpolated level by level up to the last of ``finer_shapes`` (full size)."""
    for shape in finer_shapes:
        x = double(x, shape)
    return x


def _finer_duals(duals: Duals, stage, lam: float) -> Duals:
    """The duals of the next coarser level carried to ``stage``'s grid (see the module notes)."""
    n_slices, n_angles, n_det = stage.data.shape
    data = double(duals.data.transpose(0, 1), (n_slices, n_det)).transpose(0, 1).mul_(2.0)
    gradient = double(duals.gradient.transpose(0, 1), (n_slices, *stage.projector.in_shape)).transpose(0, 1)
    gradient = gradient.mul_(LAM_RATIO).contiguous()
    _project_dual_ball_(gradient, lam, component_dim=-3)
    return Duals(data.contiguous(), gradient)


__all__ = ["coarse_to_fine_tv", "coarser", "coarse_size", "double", "full_resolution_iterations", "halve",
           "level_iterations", "useful_levels"]
