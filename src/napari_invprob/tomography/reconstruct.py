"""Tomography: ``napari_invprob.reconstruct``, the front door.

The methods are the table :data:`METHODS` (:mod:`~napari_invprob.tomography.methods`); the
arguments are checked by the rules every problem shares (:mod:`~napari_invprob.problems.methods`) and
laid out as a batch of slices by :mod:`~napari_invprob.tomography.chunks`, which solves them in chunks:

* :func:`reconstruct` solves chunks of at most :data:`SOLVE_CHUNK_ELEMENTS` pixels into a preallocated
  volume, one chunk per CPU thread at a time, so a solver's state (about nine times its unknowns for
  ``pdhg-tv``) is held for those chunks only: the peak beyond the data is the output volume, the
  projector's two sparse matrices (about 34 bytes per pixel of a slice and angle: 0.17 GB for 256x256
  slices and 77 angles, 4.0 GiB for 1024x1024 and 120) and the running chunks' state
  (``benchmarks/tilt_series.py`` measures the multiple of the volume). Small chunks are also faster on
  the CPU: their element-wise work stays in cache.
* :func:`reconstruct_iter` streams the whole volume, one yield per iteration, so its chunks (at most
  :data:`MAX_CHUNK_ELEMENTS` each) advance in lockstep (side by side, one per CPU thread, as
  :func:`reconstruct` solves them) and every chunk's solver state is alive at once:
  about ten times the volume for ``pdhg-tv`` — the price of watching the whole volume converge. For big
  series stream a sub-volume or use :func:`reconstruct`.

The data term of the regularised methods is divided by the number of angles,
``½‖Ax − y‖² / n_angles + λ·R(x)``, so λ does not depend on how many projections were taken; λ is in
the units of the reconstruction (a Shepp-Logan phantom on [0, 1]: λ ≈ 0.05 for TV). No data-dependent
rescaling is made, so every chunk of a volume (here or on a dask worker) solves exactly the problem the
whole volume poses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from .._shared.memory import large_blocks_mapped
from ..solvers.base import Iterate
from .chunks import MAX_CHUNK_ELEMENTS, MIN_CHUNK_SLICES, SOLVE_CHUNK_ELEMENTS, Plan, make_plan, solve_in_chunks, stream
from .cross_validation import cross_validate
from .geometry import project
from .methods import METHODS, TomographyProblem, projector_norm


def reconstruct_iter(
    data,
    angles,
    *,
    method: str = "fbp",
    lam: float | None = None,
    n_iter: int | None = None,
    tilt_axis: str = "y",
    thickness: int | None = None,
    x0=None,
    device=None,
    background="auto",
    contrast: str = "auto",
    **options,
) -> Iterator[Iterate]:
    """Reconstruct step by step: a generator of iterates in the output layout.

    Takes the arguments of :func:`reconstruct`. Everything is checked before the generator is returned;
    the work happens as it is consumed, one yield per iteration (``fbp`` yields once), and it may be
    abandoned between any two yields. With ``lam="auto"`` the cross-validation runs lazily, at the
    first ``next`` (so a GUI can run it in its worker thread). The whole volume's solver state is held
    at once (see the module notes on memory); :func:`reconstruct` holds one chunk's.

    Returns
    -------
    iterator of Iterate
        Each ``Iterate.x`` is a new float32 tensor: the image ``(n, n)`` or the volume ``(z, y, x)``.
        ``residual`` is ``‖Ax − y‖`` in the data's units (None for adam and pnp-admm, which report their
        objective or ``algorithm_residual``, ADMM's primal residual); ``objective`` that of the weighted
        problem.
    """
    checked = make_plan(data, angles, method=method, lam=lam, n_iter=n_iter, tilt_axis=tilt_axis,
                        thickness=thickness, x0=x0, device=device, background=background, contrast=contrast,
                        **options)
    return _stream_with_lam(checked)


def reconstruct(
    data,
    angles,
    *,
    method: str = "fbp",
    lam: float | None = None,
    n_iter: int | None = None,
    tilt_axis: str = "y",
    thickness: int | None = None,
    x0=None,
    device=None,
    background="auto",
    contrast: str = "auto",
    **options,
) -> np.ndarray:
    """Reconstruct an image from a sinogram, or a volume from a parallel-beam tilt series.

    Parameters
    ----------
    data : array-like
        A sinogram ``(n_angles, n_detector)`` or a tilt series ``(n_angles, rows, cols)``. Never modified.
    angles : array-like
        Projection angles in degrees, one per projection, any order and spacing (at least 2, finite,
        distinct modulo 360°). 0° projects along the rows (2D) or along z (3D), as
        :func:`napari_invprob.project` and ``skimage.transform.radon``.
    method : str
        One of :data:`METHODS`: ``fbp``, ``sirt``, ``cgls``, ``fista-tv``, ``pdhg-tv`` (``tv``), ``adam``,
        ``pnp-fista``, ``pnp-admm``.
    lam : float, optional
        Regularisation weight λ ≥ 0 for ``½‖Ax − y‖²/n_angles + λ·R(x)`` in the units of the
        reconstruction (for ``pnp-*`` the denoiser strength σ); None takes the method's default (tuned
        on the Shepp-Logan phantom on [0, 1]); ignored by methods without λ. ``"auto"`` chooses it from
        the data, before reconstructing, as
        ``napari_invprob.tomography.cross_validation.cross_validate(data, angles, method=method, n_iter=n_iter, ...).best_lam``
        (seven reconstructions from three quarters of the projections: about five times the cost of
        the reconstruction itself; call ``cross_validate`` yourself to see the scores or pick the
        candidates).
    n_iter : int, optional
        Iterations (default: the method's); ignored by ``fbp``.
    tilt_axis : {"y", "x"}
        For a tilt series, the image axis the specimen is tilted about: ``"y"`` (rows; each row of the
        projections is the sinogram of one y-slice of the volume) or ``"x"`` (columns).
    thickness : int, optional
        Size of the reconstructed volume along z (default: the detector width); ignored for a sinogram.
    x0 : array-like, optional
        Warm start in the output layout (``(n, n)`` or ``(z, y, x)``); by default iterative methods start
        from zeros (``sirt``, ``cgls``, ``adam``) or from the non-negative part of the Hann-filtered
        back-projection (the TV and plug-and-play methods).
    device : str or torch.device, optional
        Where to compute; None picks CUDA, then MPS, then the CPU.
    background : "auto", "none", float or array-like
        Each projection's constant background, removed before reconstructing (projections of a compact
        specimen vanish outside it): ``"auto"`` estimates it and removes it when significant (data that
        are line integrals already pass unchanged); ``"none"`` keeps the data as they are; a number, or
        one per projection, is subtracted. See :func:`napari_invprob.preparation.resolve_preparation`,
        which also undoes unsigned counts stored as int16.
    contrast : {"auto", "dark-field", "bright-field"}
        Bright-field projections (transmitted intensities) are made line integrals, ``−log(I / I0)``;
        ``"auto"`` detects them (all positive, a bright empty area).
    **options
        Method options: ``filter`` (fbp), ``nonneg`` (all but fbp and cgls; default True),
        ``step_ratio``, ``relaxation`` and ``levels`` (pdhg-tv: primal/dual step ratio, over-relaxation
        in (0, 2), resolution levels: ``"auto"`` is 3 on a tilt series without ``x0``, 1 on a sinogram),
        ``n_inner`` (fista-tv), ``lr`` (adam),
        ``denoiser`` (``pnp-*``: "tv", "gaussian", ...), ``rho`` and ``n_cg`` (pnp-admm).

    Returns
    -------
    numpy.ndarray
        Float32: ``(n, n)`` for a sinogram with ``n`` detector bins; ``(z, y, x)`` for a tilt series,
        ``z = thickness`` and ``(y, x)`` the projections' ``(rows, cols)``.

    Raises
    ------
    ValueError
        Unknown method, filter or tilt axis; data not 2D/3D or with NaN/Inf; an angle count that does
        not match the data, fewer than 2 angles, non-finite or repeated angles; λ < 0, a string other
        than ``"auto"``, or ``"auto"`` for a method without λ; a bad
        ``n_iter``, ``thickness`` or ``x0`` shape.
    TypeError
        Non-numeric or complex data or angles, an option the method does not take.
    """
    with large_blocks_mapped():  # the preparation's and the projector's large arrays too, not only the solve's
        checked = make_plan(data, angles, method=method, lam=lam, n_iter=n_iter, tilt_axis=tilt_axis,
                            thickness=thickness, x0=x0, device=device, background=background, contrast=contrast,
                            **options)
        return solve_in_chunks(_with_lam(checked))


def _with_lam(checked: Plan) -> Plan:
    """The plan with ``lam="auto"`` replaced by the cross-validated λ (the work of several reconstructions)."""
    if checked.lam != "auto":
        return checked
    extra = {} if checked.thickness is None else {"thickness": checked.thickness}
    best = cross_validate(
        checked.data, checked.angles, method=checked.spec.name, n_iter=checked.n_iter, tilt_axis=checked.tilt_axis,
        device=checked.projector.device, background="none", contrast="dark-field", **extra, **checked.options,
    ).best_lam
    return replace(checked, lam=best)


def _stream_with_lam(checked: Plan) -> Iterator[Iterate]:
    """:func:`~napari_invprob.tomography.chunks.stream` after ``lam="auto"`` is chosen, at the first ``next``."""
    yield from stream(_with_lam(checked))


__all__ = [
    "MAX_CHUNK_ELEMENTS",
    "METHODS",
    "MIN_CHUNK_SLICES",
    "SOLVE_CHUNK_ELEMENTS",
    "TomographyProblem",
    "project",
    "projector_norm",
    "reconstruct",
    "reconstruct_iter",
]
