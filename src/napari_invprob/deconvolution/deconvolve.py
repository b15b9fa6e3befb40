"""Deconvolution: ``napari_invprob.deconvolve`` and the table of methods behind it.

The image is brought to one layout for every method: a batch of float32 images ``(n, *spatial)`` with
the colour channels (if any) as the batch, divided by its peak ``max|y|`` so that one default λ suits
8-bit, 16-bit and float data alike. Every iterate goes back to the input's layout and scale before it
is yielded, so a GUI can show it directly. λ is therefore the weight of the objective on data scaled to
a peak of 1 (e.g. ``½‖Hx − y‖² + λ‖∇x‖₁`` for TV).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch

from .._shared.device import to_numpy, to_tensor
from ..problems.lam_selection import minimise_risk_lam
from ..problems.methods import check_bool, check_lam, check_n_iter, check_options, check_x0, method_spec
from ..solvers.base import Clock, Iterate, finite_iterates, last
from .measured_psf import prepare_psf
from .methods import METHODS
from .problem import DeconvolutionProblem, _problem

_PASSED = ("lam", "n_iter", "nonneg", "x0")
#: Size of the Monte-Carlo probe of SURE's divergence, relative to the noise level.
PROBE_SIZE = 0.01


# -- the calls -----------------------------------------------------------------------------------------


def deconvolve_iter(
    image,
    psf,
    *,
    method: str = "admm-tv",
    lam: float | str | None = None,
    n_iter: int | None = None,
    channel_axis: int | None = None,
    boundary: str = "periodic",
    nonneg: bool = True,
    x0=None,
    device=None,
    data_peak: float | None = None,
    time_axis: int | None = None,
    first_time_point: int = 0,
    psf_background="auto",
    voxel_size=None,
    psf_voxel_size=None,
    **options,
) -> Iterator[Iterate]:
    """Deconvolve step by step: a generator of iterates in the input's layout.

    Takes the arguments of :func:`deconvolve`. Everything is checked before the generator is returned;
    the work (including the search of ``lam="auto"``) happens as it is consumed, one yield per
    iteration (direct methods yield once), and it may be abandoned between any two yields.

    Returns
    -------
    iterator of Iterate
        Each ``Iterate.x`` is a new float32 tensor of the input image's shape and scale. With
        ``time_axis``, it is one float32 CPU tensor of the whole series, updated in place (copy it to
        keep it): the time points done, the current one's iterate, zeros for those to come; the
        iterations count on over the time points. ``residual`` is ``‖Hx − y‖`` in the input's units
        where the method has it for free (admm-tv, pnp-admm and adam report ``algorithm_residual``,
        ADMM's primal residual, or the objective instead).
    """
    psf = prepared_psf(psf, image, channel_axis, background=psf_background, voxel_size=voxel_size,
                        psf_voxel_size=psf_voxel_size)
    if time_axis is not None:
        return _time_points(image, psf, time_axis=time_axis, first=first_time_point, channel_axis=channel_axis,
                            x0=x0, method=method, lam=lam, n_iter=n_iter, boundary=boundary, nonneg=nonneg,
                            device=device, data_peak=data_peak, **options)
    psfs = _channel_psfs(image, psf, channel_axis)
    if psfs is not None:
        return _channel_by_channel(image, psfs, method=method, lam=lam, n_iter=n_iter, channel_axis=channel_axis,
                                   boundary=boundary, nonneg=nonneg, x0=x0, device=device, data_peak=data_peak,
                                   **options)
    spec = method_spec(METHODS, method, "deconvolution")
    check_options(spec, options, passed=_PASSED)
    spec.warn_unused(lam, n_iter)
    nonneg = check_bool(nonneg, "nonneg")
    problem = _problem(image, psf, channel_axis=channel_axis, boundary=boundary, device=device,
                       data_peak=data_peak)
    lam = check_lam(lam, spec)
    n_iter = check_n_iter(n_iter, spec.default_n_iter)
    start = None if x0 is None else problem.to_internal(check_x0(x0, np.shape(image), problem.op.device,
                                                                 "the image"))
    what = f"deconvolution with method {spec.name!r} (λ = {lam})"
    if lam == "auto":
        return _stream(problem, _auto_iterates(problem, spec, n_iter, nonneg, start, options), what)
    # built now, so that bad option values are refused here (set-up such as FFTs of the data runs too)
    return _stream(problem, spec.solver(problem, lam=lam, n_iter=n_iter, nonneg=nonneg, x0=start, **options),
                   what)


def deconvolve(
    image,
    psf,
    *,
    method: str = "admm-tv",
    lam: float | str | None = None,
    n_iter: int | None = None,
    channel_axis: int | None = None,
    boundary: str = "periodic",
    nonneg: bool = True,
    x0=None,
    device=None,
    data_peak: float | None = None,
    time_axis: int | None = None,
    first_time_point: int = 0,
    psf_background="auto",
    voxel_size=None,
    psf_voxel_size=None,
    **options,
) -> np.ndarray:
    """Deconvolve a 2D or 3D image, optionally with colour channels.

    Parameters
    ----------
    image : array-like
        The measured image: 2D ``(y, x)`` or 3D ``(z, y, x)``, plus a channel axis when
        ``channel_axis`` is given (channels are deconvolved independently with the same PSF) and a
        time axis when ``time_axis`` is given. Integer images are converted to float (not truncated).
        Never modified.
    psf : array-like or list of array-like
        Centred point-spread function with one axis per spatial axis, no larger than the image; it is
        normalised to sum 1 here. Its centre is the pixel ``shape // 2``: an odd size has its peak
        there; an even size has no centre pixel, so a PSF centred between pixels shifts the result by
        half a pixel (a warning says so). Negative values are warned about too. With ``channel_axis``,
        one PSF per channel (e.g. per emission wavelength) may be given: a list of PSFs, or an array
        with a leading channel axis; each channel is then deconvolved with its own, scaled by the
        whole image's peak so that λ means the same (``lam="auto"`` chooses one λ per channel).
    method : str
        One of :data:`METHODS` (``"tv"`` is our fastest TV method).
    lam : float, "auto" or None
        Regularisation weight on data scaled to a peak of 1 (for ``pnp-*`` the denoiser strength σ, for
        ``fourier`` the lecture's eps); None takes the method's default (tuned on the lecture's case);
        ``"auto"`` picks the λ that minimises SURE, an unbiased estimate of the predicted risk
        ``E‖H(x_λ − x)‖²`` computed from the data and their estimated noise level (no reference
        needed; six to ten solves, see :mod:`napari_invprob.problems.lam_selection`). Ignored by
        methods without λ.
    n_iter : int, optional
        Iterations (default: the method's); ignored by direct methods.
    channel_axis : int, optional
        Axis of colour channels (e.g. -1 for RGB).
    boundary : {"periodic", "zero", "reflect"}
        Blur model at the image edges: ``"periodic"`` (the lecture's; for images whose opposite edges
        match), ``"zero"`` (dark outside), or ``"reflect"`` (the image mirrored out by twice the PSF's
        size, at least 16 pixels, deconvolved periodically, then cropped: no ringing from edges that
        differ, the usual case for microscopy images, at the cost of a larger grid). ``fourier`` and
        ``wiener`` need ``"periodic"`` or ``"reflect"``.
    nonneg : bool
        Constrain the estimate to ``x ≥ 0`` (direct methods clip their result); True or False only.
    x0 : array-like, optional
        Warm start for iterative methods, in the image's layout and units (default: the image itself).
    device : str or torch.device, optional
        Where to compute; None picks CUDA, then MPS, then the CPU.
    data_peak : float, optional
        The value the data are divided by before solving (default: their own peak ``max|y|``). Give
        the whole image's peak when deconvolving a piece of it (a tile), so λ means the same in every
        piece.
    time_axis : int, optional
        Axis of time points (e.g. 0 for ``(t, z, y, x)`` or ``(t, c, z, y, x)``): each time point is
        deconvolved alone, one at a time (memory: one time point's problem plus the float32 result),
        exactly as ``deconvolve`` of that time point (its own peak, its own ``"auto"`` estimates).
    first_time_point : int
        With ``time_axis``: the time point solved first (e.g. the one in view); the others follow in
        order, wrapping around.
    psf_background : "auto", "none" or float
        The PSF's own background (a bead stack's camera offset), removed before use:
        ``"auto"`` estimates it and removes it when it is above the noise, then centres, crops and
        normalises the measured PSF (:func:`~napari_invprob.deconvolution.measured_psf.prepare_psf`; a
        theoretical PSF passes through unchanged, and one whose peak lies far from its centre, e.g.
        ``np.fft.ifftshift(psf)``, is centred); ``"none"`` keeps it; a number removes that level. A
        warning says what was done.
    voxel_size, psf_voxel_size : sequence of float, optional
        The image's and the PSF's voxel sizes, one per spatial axis (``(z, y, x)`` or ``(y, x)``), in the
        same unit (only their ratio matters). With both, the PSF is resampled onto the image's grid
        (keeping its energy and centre), e.g. a bead stack at 0.1 µm planes for data at 0.3 µm; with one
        only, a warning says that the PSF is used as sampled.
    **options
        Method-specific options: ``eps`` (fourier), ``nsr`` (wiener), ``regulariser`` ("gradient" or
        "identity", tikhonov), ``step`` (landweber, fista-*), ``n_inner`` (fista-tv), ``rho`` (admm-tv,
        pnp-admm), ``denoiser`` (pnp-*), ``lr`` (adam). ``pnp-admm`` with ``denoiser="learned"`` and no
        ``rho`` runs a decreasing noise schedule: the denoiser's σ_k falls geometrically from 0.15 to λ
        over the iterations while the data step's penalty rises as ``ρ_k = 0.23·λ²/σ_k²`` (see
        :func:`~napari_invprob.solvers.pnp.pnp_admm` for the update rule); λ is then the noise level the
        schedule ends at, best set near the data's noise standard deviation over their peak.
        ``background`` (richardson-lucy, rl-tv): the constant ``b`` of the model ``y ~ Poisson(Hx + b)``
        (a camera's offset, typically 100 counts), in the image's units: a number, one number per
        channel, or ``"auto"``: estimated per channel by
        :func:`~napari_invprob.deconvolution.background.estimate_background` (the 1st percentile of the
        image averaged over 7-pixel boxes). Without it, data whose estimated background exceeds 5 % of
        their peak get a ``UserWarning``: Richardson-Lucy would take the offset as signal.
        ``measure_fit`` (richardson-lucy, rl-tv): measure every iterate's objective and residual (True by
        default in :func:`deconvolve_iter`; this function, which returns only the image, skips them).

    Returns
    -------
    numpy.ndarray
        Float32, the image's shape.

    Raises
    ------
    ValueError
        Unknown method (the message lists the valid ones) or option value, λ < 0 or beyond float32's
        range, a PSF with the wrong number of axes, larger than the image or summing to 0, NaN/Inf,
        a masked array with masked values, wrong ``x0`` shape, an unavailable device, voxel sizes that
        are not one positive number per spatial axis, a measured PSF that is not one whole bead (all
        background, no peak above the noise, two beads, cut by the border); and, during the
        run, an estimate that became NaN or Inf (the solve diverged or left float32's range).
    TypeError
        Non-numeric or complex data, an option the method does not take or of the wrong type, a
        ``nonneg`` that is not True or False.

    Warns
    -----
    UserWarning
        A λ given to a method without one, an iteration count given to a direct method, a PSF with
        negative values or an even size; what the PSF's preparation did (e.g. "the PSF sat on a
        background of 142 (1.8% of its peak, 94% of its sum): removed; ..."), or that only one voxel size
        is known.
    """
    iterates = deconvolve_iter(
        image, psf, method=method, lam=lam, n_iter=n_iter, channel_axis=channel_axis, boundary=boundary,
        nonneg=nonneg, x0=x0, device=device, data_peak=data_peak, time_axis=time_axis,
        first_time_point=first_time_point, psf_background=psf_background, voxel_size=voxel_size,
        psf_voxel_size=psf_voxel_size, **_unmeasured(method, options),
    )
    return to_numpy((iterates.final() if isinstance(iterates, _Stream) else last(iterates)).x)


def _unmeasured(method, options: dict) -> dict:
    """``options`` with ``measure_fit=False`` for a method that measures every iterate's fit only when asked
    (Richardson-Lucy: 15 % of an iteration in 3D), unless the caller set it: :func:`deconvolve` returns
    only the image."""
    spec = METHODS.get(method) if isinstance(method, str) else None
    if spec is None or "measure_fit" not in spec.keywords():
        return options
    return {"measure_fit": False, **options}


def choose_lam(
    image,
    psf,
    *,
    method: str = "admm-tv",
    n_iter: int | None = None,
    channel_axis: int | None = None,
    boundary: str = "periodic",
    nonneg: bool = True,
    device=None,
    psf_background="auto",
    voxel_size=None,
    psf_voxel_size=None,
    **options,
) -> float:
    """The λ that ``lam="auto"`` would use: the minimiser of SURE's predicted risk.

    Takes the arguments of :func:`deconvolve` (without ``lam`` and ``x0``); the noise level is estimated
    from the data's spectrum where the PSF passes no signal (see
    :func:`~napari_invprob.problems.noise.estimate_noise_sigma`). Costs six to ten solves. λ refers to
    the data scaled to a peak of 1, as everywhere in :func:`deconvolve`.
    """
    spec = method_spec(METHODS, method, "deconvolution")
    check_options(spec, options, passed=_PASSED)
    check_lam("auto", spec)
    nonneg = check_bool(nonneg, "nonneg")
    psf = prepared_psf(psf, image, channel_axis, background=psf_background, voxel_size=voxel_size,
                        psf_voxel_size=psf_voxel_size)
    problem = _problem(image, psf, channel_axis=channel_axis, boundary=boundary, device=device)
    return _auto_lam(problem, spec, check_n_iter(n_iter, spec.default_n_iter), nonneg, options)


def prepared_psf(psf, image, channel_axis, *, background="auto", voxel_size=None, psf_voxel_size=None):
    """The PSF (or each channel's) through :func:`~napari_invprob.deconvolution.measured_psf.prepare_psf`,
    what was done said in a warning; a PSF that cannot be prepared (not 2D or 3D, not finite, no positive
    sum) is left to the problem's checks, which refuse it."""
    channel_psfs = _channel_psfs(image, psf, channel_axis)
    prepared = []
    for kernel in channel_psfs if channel_psfs is not None else [psf]:
        if _preparable(kernel):
            kernel, report = prepare_psf(kernel, background=background, voxel_size=voxel_size,
                                         psf_voxel_size=psf_voxel_size)
            for message in ([str(report)] if report.changed else []) + list(report.warnings):
                warnings.warn(message, UserWarning, stacklevel=4)
        prepared.append(kernel)
    return prepared if channel_psfs is not None else prepared[0]


def _preparable(psf) -> bool:
    """Whether ``psf`` is a 2D or 3D array of finite real numbers with a positive sum (not a masked array)."""
    if isinstance(psf, np.ma.MaskedArray):
        return False
    try:
        kernel = np.asarray(psf)
    except (TypeError, ValueError):
        return False
    if kernel.ndim not in (2, 3) or not (np.issubdtype(kernel.dtype, np.integer)
                                         or np.issubdtype(kernel.dtype, np.floating)):
        return False
    return bool(np.isfinite(kernel).all()) and float(kernel.sum(dtype=np.float64)) > 0


def _time_points(image, psf, *, time_axis, first, channel_axis, x0, **keywords) -> Iterator[Iterate]:
    """Each time point deconvolved alone, ``first`` first; the first one's problem is built (and its
    arguments checked) before this returns."""
    shape = tuple(np.shape(image))
    ndim = len(shape)
    if isinstance(time_axis, bool) or not isinstance(time_axis, (int, np.integer)) or not -ndim <= time_axis < ndim:
        raise ValueError(f"time_axis {time_axis!r} is not an axis of an image of shape {shape}")
    axis = int(time_axis) % ndim
    count = shape[axis]
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or not 0 <= first < count:
        raise ValueError(f"first_time_point {first!r} is not one of the {count} time points")
    inner_channel = None
    if channel_axis is not None:
        if int(channel_axis) % ndim == axis:
            raise ValueError(f"channel_axis and time_axis are the same axis ({axis})")
        inner_channel = int(channel_axis) % ndim - (int(channel_axis) % ndim > axis)
    if x0 is not None and tuple(np.shape(x0)) != shape:
        raise ValueError(f"x0 has shape {tuple(np.shape(x0))}, the image has shape {shape}")
    order = [*range(first, count), *range(first)]

    def solve(t: int) -> Iterator[Iterate]:
        start = None if x0 is None else np.take(x0, t, axis=axis)
        return deconvolve_iter(np.take(image, t, axis=axis), psf, channel_axis=inner_channel, x0=start,
                               psf_background="none", **keywords)

    return _over_time(solve(order[0]), solve, order, shape, axis)


def _over_time(first_iterates: Iterator[Iterate], solve, order: list[int], shape, axis: int) -> Iterator[Iterate]:
    clock = Clock()
    series = torch.zeros(shape, dtype=torch.float32)
    done = 0
    for index, t in enumerate(order):
        iterations = 0
        for it in first_iterates if index == 0 else solve(t):
            series.select(axis, t).copy_(it.x)
            iterations = it.iteration
            yield replace(it, iteration=done + it.iteration, x=series, elapsed=clock())
        done += iterations


def _channel_psfs(image, psf, channel_axis) -> list | None:
    """The channels' PSFs when ``psf`` gives one per channel: a list or tuple of PSFs with one axis per
    spatial axis each, or an array with a leading channel axis (one axis more than the spatial axes);
    None for one PSF shared by all channels."""
    ndim = np.ndim(image)
    if channel_axis is None or isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
        return None  # one PSF (a bad channel_axis is refused with the image's other checks)
    listed = isinstance(psf, (list, tuple)) and len(psf) > 0 and all(np.ndim(p) == ndim - 1 for p in psf)
    if not (listed or np.ndim(psf) == ndim) or not -ndim <= channel_axis < ndim:
        return None
    n_channels = np.shape(image)[channel_axis]
    if len(psf) != n_channels:
        given = ("a list of" if listed else f"psf has {ndim} axes, one more than the image's spatial axes, so it is "
                 "taken as one PSF per channel along its first axis:")
        raise ValueError(f"{given} {len(psf)} PSFs for {n_channels} channels (axis {channel_axis} of the image); "
                         "give one PSF per channel, or one PSF for all")
    return list(psf)


def _channel_by_channel(image, psfs: list, *, channel_axis: int, x0, data_peak, background=None,
                        **keywords) -> Iterator[Iterate]:
    """Each channel deconvolved with its own PSF (all checked before any work), scaled by the whole
    image's peak so that λ means what it means for one PSF; one iterate per iteration, the channels'
    estimates stacked along ``channel_axis``, their objectives summed."""
    data = to_tensor(image, "cpu", name="image")
    axis = int(channel_axis) % data.ndim
    peak = data_peak if data_peak is not None else (float(data.abs().max()) or 1.0)
    levels = (list(background) if isinstance(background, (list, tuple, np.ndarray)) and len(background) == len(psfs)
              else [background] * len(psfs))
    if x0 is not None:
        x0 = check_x0(x0, np.shape(image), "cpu", "the image")
    streams = [
        deconvolve_iter(data.select(axis, c), kernel, channel_axis=None, data_peak=peak, psf_background="none",
                        x0=None if x0 is None else x0.select(axis, c),
                        **keywords, **({} if levels[c] is None else {"background": levels[c]}))
        for c, kernel in enumerate(psfs)
    ]
    return _stacked(streams, axis)


def _stacked(streams: list, axis: int) -> Iterator[Iterate]:
    for iterates in zip(*streams):
        objectives = [it.objective for it in iterates]
        residuals = [it.residual for it in iterates]
        yield Iterate(iterates[0].iteration, torch.stack([it.x for it in iterates], dim=axis),
                      None if None in objectives else sum(objectives),
                      None if None in residuals else math.sqrt(sum(r * r for r in residuals)),
                      max(it.elapsed for it in iterates))


def _stream(problem: DeconvolutionProblem, iterates: Iterator[Iterate], what: str) -> _Stream:
    """The iterates in the input's layout and scale (residuals too); NaN or Inf (a diverged solve) raises
    ``ValueError``."""
    return _Stream(problem, iterates, what)


class _Stream(Iterator[Iterate]):
    """A solver's iterates converted to the input's layout one by one; :meth:`final` converts the last only."""

    def __init__(self, problem: DeconvolutionProblem, iterates: Iterator[Iterate], what: str):
        # the conversion needs the layout and the scale, not the data: a solver that is done with y (ADMM-TV
        # keeps its Fourier transform instead) lets it go, one image less while it runs
        problem = replace(problem, y=problem.y.new_empty((0, *problem.y.shape[1:])))
        self._problem, self._iterates, self._what = problem, iterates, what
        self._converted = finite_iterates((problem.to_output_iterate(it) for it in iterates), what=what)

    def __next__(self) -> Iterate:
        return next(self._converted)

    def final(self) -> Iterate:
        """Drain the solver and convert its last iterate: no copy of every iterate in the input's layout
        (one full-size image less at the peak of a large stack)."""
        answer = last(finite_iterates(self._iterates, what=self._what))
        return last(finite_iterates([self._problem.to_output_iterate(answer)], what=self._what))


def _auto_iterates(problem, spec, n_iter, nonneg, x0, options) -> Iterator[Iterate]:
    """The λ search runs when the stream is first consumed (in the caller's worker thread)."""
    lam = _auto_lam(problem, spec, n_iter, nonneg, options)
    yield from spec.solver(problem, lam=lam, n_iter=n_iter, nonneg=nonneg, x0=x0, **options)


def _auto_lam(problem, spec, n_iter, nonneg, options) -> float:
    """λ minimising SURE's estimate of the predicted risk ``E‖H(x_λ − x)‖²`` (two solves per λ)."""
    sigma = problem.noise_sigma
    if not sigma > 0:
        raise ValueError("the data look noise-free (estimated noise level 0); give lam explicitly")
    generator = torch.Generator(device="cpu").manual_seed(0)
    probe = torch.randn(problem.y.shape, generator=generator).to(problem.y.device)
    epsilon = PROBE_SIZE * sigma
    perturbed = replace(problem, y=problem.y + epsilon * probe)

    def solve(data: DeconvolutionProblem, lam: float) -> torch.Tensor:
        return last(spec.solver(data, lam=lam, n_iter=n_iter, nonneg=nonneg, x0=None, **options)).x

    def risk(lam: float) -> float:
        fitted = problem.op.forward(solve(problem, lam))
        divergence = float(torch.sum(probe * (problem.op.forward(solve(perturbed, lam)) - fitted))) / epsilon
        misfit = float(torch.sum((fitted - problem.y) ** 2))
        return misfit - problem.y.numel() * sigma**2 + 2.0 * sigma**2 * divergence

    return minimise_risk_lam(risk, lam_start=spec.default_lam)


__all__ = ["choose_lam", "deconvolve", "deconvolve_iter"]
