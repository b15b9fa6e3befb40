"""The subcommands: each checks its outputs, reads its inputs, runs the Python call and writes atomically.

Every command returns a summary (a dict) that ``main`` prints as JSON with ``--json``; the same record,
with the parameters used, is written beside the output as ``<out>.json``. Its keys are those of a
result layer's ``metadata`` in napari (``napari_invprob_version``, ``problem``, ``method``,
``parameters``, ``iterations``, ``elapsed_s``, ``status``, ``psnr_db``/``ssim`` with a reference), with
``source`` (the input file) for the widget's ``source_layer`` and the command line that made it.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
import time
from pathlib import Path

import numpy as np

from .._shared.provenance import provenance
from . import _inputs
from ._output import OutputPlan, check_axes_fit, check_volume_suffix, sidecar_path
from ._progress import ChunkProgress, follow, progress_bar
from .errors import CliError


def record(problem: str, *, method, parameters: dict, source, iterations, elapsed: float, **extra) -> dict:
    """How a result was made: the JSON sidecar, with the keys of a result layer's metadata."""
    return provenance(
        problem,
        method=method,
        parameters={k: v for k, v in parameters.items() if k != "method"},
        source=None if source is None else str(Path(source).resolve()),
        iterations=iterations,
        elapsed_s=round(float(elapsed), 4),
        status="finished",
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        argv=["napari-invprob", *sys.argv[1:]],
        **extra,
    )


def _quality(reference, result, channel_axis) -> dict:
    """PSNR and SSIM of ``result`` against ``reference`` over the reference's value range."""
    if reference is None:
        return {}
    from ..metrics import psnr, ssim

    result = np.asarray(result)

    data_range = float(reference.max() - reference.min()) or 1.0
    return {
        "psnr_db": round(psnr(reference, result, data_range=data_range), 3),
        "ssim": round(ssim(reference, result, data_range=data_range, channel_axis=channel_axis), 4),
        "data_range": data_range,
    }


def _voxel_size(args, pixel_size):
    return args.pixel_size if args.pixel_size is not None else pixel_size


def _finish(plan: OutputPlan, out: Path, volume: np.ndarray, voxel_size, entry: dict, axes: str | None = None) -> dict:
    """Write the volume (its axes named in a TIFF or OME-Zarr when given), then its sidecar; return the
    summary. A volume a distributed run wrote into its OME-Zarr output already (a dask array) gets the
    record in its attributes."""
    from ..files.zarr import set_provenance

    sidecar = sidecar_path(out)
    entry = {**entry, "output": str(out.resolve()), "shape": list(volume.shape), "voxel_size": voxel_size}
    if _inputs.is_lazy(volume):
        set_provenance(out, entry)
    else:
        plan.write_volume(out, volume, voxel_size, axes, provenance=entry)
    plan.write_json(sidecar, entry)
    return {**entry, "sidecar": str(sidecar.resolve())}


def _plan(out: Path, inputs, args) -> OutputPlan:
    """The output plan; ``--resume`` lets a distributed run continue into its existing OME-Zarr output."""
    resume = getattr(args, "resume", False)
    if resume and (args.scheduler is None or not _inputs.is_zarr(out)):
        raise CliError("--resume continues a run into its .zarr output; it goes with --scheduler and --out X.zarr")
    return OutputPlan.check([out, sidecar_path(out)], inputs, overwrite=args.overwrite or resume)


def _streamed(args, data, command: str):
    """Whether the run reads its lazy (OME-Zarr) input piece by piece on dask; else the input, read whole
    (refused, naming the command to use, when it would not fit)."""
    if args.scheduler is not None and _inputs.is_lazy(data):
        return True, data
    return False, _inputs.in_memory(data, args.input, command)


def _run_record(out: Path, streamed: bool) -> dict:
    """What a distributed run wrote into its OME-Zarr output's record: its pieces, those kept from an
    interrupted run, the seconds per piece (and its parameters, for what it resolved on the cluster)."""
    if not (streamed and _inputs.is_zarr(out)):
        return {}
    from ..files import read_zarr

    stored = read_zarr(out).attributes.get("provenance") or {}
    return {key: stored[key] for key in ("pieces", "pieces_kept", "seconds_per_piece", "parameters") if key in stored}


def _solve(iterates_call, distributed_call, args, *, n_iter: int, desc: str):
    """Run a solve in this process (consuming its iterates) or on dask; return (result, iterations, seconds)."""
    from .._shared.device import to_numpy

    start = time.perf_counter()
    if args.scheduler is None:
        final = follow(iterates_call(), total=n_iter, desc=desc, quiet=args.quiet)
        return to_numpy(final.x), final.iteration, final.elapsed
    progress = ChunkProgress(desc=desc, quiet=args.quiet)
    try:
        result = distributed_call(progress)
    finally:
        progress.close()
    return result, n_iter, time.perf_counter() - start


def deconvolve(args) -> dict:
    from ..deconvolution.deconvolve import deconvolve_iter
    from ..deconvolution.methods import METHODS
    from ..distributed.tiles import deconvolve_distributed

    out = check_volume_suffix(Path(args.out))
    plan = _plan(out, [args.input, args.psf, args.reference], args)
    image, pixel_size = _inputs.read_image(args.input)
    streamed, image = _streamed(args, image, "deconvolve")
    axes = _inputs.file_axes(args.input, image)
    axis = _inputs.channel_axis(args.channel_axis, image, axes)
    time = _inputs.time_axis(args.time_axis, image, axes)
    _inputs.say_axes_from_file(args, axes, axis, time)
    layout = _inputs.result_axes(axes, image.ndim, axis, time)
    check_axes_fit(out, layout)
    if time is not None and args.scheduler is not None:
        raise CliError("--scheduler tiles one image or stack; a time series (--time-axis) runs here, one time point "
                       "at a time")
    psf, psf_record = _inputs.psf_from_flags(args, _inputs.spatial_shape(image, axis, time), pixel_size)
    reference = _inputs.reference(args.reference, image.shape)
    if args.scheduler is None and (args.tile_size is not None or args.overlap is not None):
        raise CliError("--tile-size and --overlap go with --scheduler")
    spec = METHODS[args.method]
    n_iter = args.n_iter or spec.default_n_iter
    background = _camera_background(args, image, axis, time)
    keywords = _inputs.with_options(
        dict(method=args.method, lam=args.lam, n_iter=args.n_iter, channel_axis=axis, boundary=args.boundary,
             nonneg=not args.allow_negative, device=args.device, **({} if time is None else {"time_axis": time}),
             psf_background="none", **background),  # the PSF: prepared by psf_from_flags
        args.option)
    tile_shape = None if args.tile_size is None else (
        args.tile_size[0] if len(args.tile_size) == 1 else tuple(args.tile_size))
    result, iterations, elapsed = _solve(
        lambda: deconvolve_iter(image, psf, **keywords),
        lambda progress: deconvolve_distributed(
            args.input if streamed else image, psf, scheduler=args.scheduler, tile_shape=tile_shape,
            overlap=args.overlap, retries=args.retries, progress=progress,
            out=out if _inputs.is_zarr(out) else None, overwrite=args.overwrite, **keywords),
        args, n_iter=n_iter * (1 if time is None else image.shape[time]), desc=args.method,
    )
    run = _run_record(out, streamed)
    if streamed and background.get("background") == "auto" and "parameters" in run:
        background = {"background": run["parameters"].get("background", "auto")}  # as estimated on the cluster
    parameters = {k: v for k, v in keywords.items() if k != "device"}
    parameters.update(lam=args.lam if args.lam is not None else spec.default_lam, n_iter=n_iter)
    if background:  # the choice (auto, None or a level) as parameter, the level modelled beside it
        choice = "auto" if args.background is None else args.background
        parameters["background"] = None if choice == "none" else choice
        level = background["background"]
        background = {} if isinstance(level, str) else {"background_level": level}  # a series: per time point
    entry = record("deconvolution", method=args.method, parameters=parameters, source=args.input,
                   iterations=iterations, elapsed=elapsed, psf_source=psf_record, scheduler=args.scheduler,
                   **_quality(reference, result, axis), **background,
                   **{k: v for k, v in run.items() if k != "parameters"})
    return _finish(plan, out, result, _voxel_size(args, pixel_size), entry, layout)


def _camera_background(args, image: np.ndarray, axis: int | None, time: int | None = None) -> dict:
    """The ``background`` keyword of a Poisson method: ``--background``, by default ``auto``, estimated
    here once (so tiles on dask share it; a time series leaves it to ``deconvolve``, per time point)
    and said on stderr; none for other methods."""
    from ..deconvolution.background import estimate_background
    from ..deconvolution.methods import POISSON_METHODS

    if args.method not in POISSON_METHODS:
        if args.background is not None:
            raise CliError(f"--background goes with the Poisson methods ({', '.join(POISSON_METHODS)}), "
                           f"not with {args.method}")
        return {}
    choice = "auto" if args.background is None else args.background
    if choice == "none":
        return {"background": None}
    if choice == "auto" and _inputs.is_lazy(image):
        if not args.quiet:
            print("napari-invprob: background (camera offset) estimated from the image's darkest regions on the "
                  "cluster, streamed (--background sets it); modelled as y ~ Poisson(Hx + b)", file=sys.stderr)
        return {"background": "auto"}
    if choice == "auto" and time is not None:
        if not args.quiet:
            print("napari-invprob: background (camera offset) estimated per time point; modelled as y ~ "
                  "Poisson(Hx + b)", file=sys.stderr)
        return {"background": "auto"}
    level = estimate_background(image, channel_axis=axis) if choice == "auto" else choice
    if not args.quiet:
        levels = ", ".join(f"{v:.4g}" for v in np.atleast_1d(level))
        how = "estimated from the image's darkest regions (--background sets it)" if choice == "auto" else "given"
        print(f"napari-invprob: background (camera offset) {levels}, {how}; modelled as y ~ Poisson(Hx + b)",
              file=sys.stderr)
    return {"background": level}


def _conventions(series, preparation, args) -> dict:
    """Say what was resolved about the file and done to its projections (stderr), and record it."""
    if not args.quiet:
        print(f"napari-invprob: {series.conventions()}", file=sys.stderr)
        print(f"napari-invprob: projections: {preparation.describe()}", file=sys.stderr)
    return {"tilt_axis": series.tilt_axis, "tilt_axis_angle": series.tilt_axis_angle,
            "tilt_axis_source": series.tilt_axis_source, "value_offset": series.value_offset,
            "preparation": preparation.record()}


def reconstruct(args) -> dict:
    from ..distributed.tilt_series import reconstruct_distributed
    from ..tomography.preparation import prepare, resolve_preparation
    from ..tomography.reconstruct import METHODS, reconstruct_iter

    out = check_volume_suffix(Path(args.out))
    plan = _plan(out, [*_inputs.series_inputs(args), args.reference], args)
    series = _inputs.read_series(args)
    streamed, data = _streamed(args, series.data, "reconstruct")
    series = dataclasses.replace(series, data=data)
    reference = _inputs.reference(args.reference, None)
    if args.scheduler is None and args.chunk_slices is not None:
        raise CliError("--chunk-slices goes with --scheduler")
    spec = METHODS[args.method]
    n_iter = args.n_iter or spec.default_n_iter
    # the whole series is prepared once, so every chunk (here or on a worker) solves the same problem; a
    # lazy series is resolved in passes over its chunks, and every task prepares its own chunk
    if streamed:
        prepared, preparation = None, resolve_preparation(series.data, contrast=args.contrast,
                                                          background=args.background)
    else:
        prepared, preparation = prepare(series.data, contrast=args.contrast, background=args.background)
    conventions = _conventions(series, preparation, args)
    keywords = _inputs.with_options(
        dict(method=args.method, lam=args.lam, n_iter=args.n_iter, tilt_axis=series.tilt_axis,
             thickness=args.thickness, device=args.device, background="none", contrast="dark-field"),
        args.option)
    distributed = dict(scheduler=args.scheduler, chunk_slices=args.chunk_slices, retries=args.retries,
                       out=out if _inputs.is_zarr(out) else None, overwrite=args.overwrite)
    if streamed:  # the chunks read from the store by the workers, each prepared by its task
        source = args.input
        distributed.update(preparation=preparation, **{k: v for k, v in keywords.items()
                                                       if k not in ("background", "contrast")})
    else:
        source = prepared
        distributed.update(keywords)
    result, iterations, elapsed = _solve(
        lambda: reconstruct_iter(prepared, series.angles, **keywords),
        lambda progress: reconstruct_distributed(source, series.angles, progress=progress, **distributed),
        args, n_iter=n_iter, desc=args.method,
    )
    _inputs.check_shape(reference, result.shape, args.reference)
    parameters = {k: v for k, v in keywords.items() if k not in ("device", "background", "contrast")}
    parameters.update(angles=series.angles, angle_source=series.angle_source, contrast=args.contrast,
                      background=args.background, lam=args.lam if args.lam is not None else spec.default_lam,
                      n_iter=n_iter)
    run = {k: v for k, v in _run_record(out, streamed).items() if k != "parameters"}
    entry = record("tomography", method=args.method, parameters=parameters, source=args.input,
                   iterations=iterations, elapsed=elapsed, scheduler=args.scheduler, **conventions,
                   **_quality(reference, result, None), **run)
    return _finish(plan, out, result, _voxel_size(args, series.pixel_size), entry)


def _angle_file(out: Path) -> Path:
    """The IMOD-style angle file beside a tilt series: ``series.mrc`` → ``series.tlt``."""
    return out.with_suffix(".tlt")


def _angle_text(angles) -> str:
    return "".join(f"{a:.4f}\n" for a in np.asarray(angles, dtype=np.float64))


def align(args) -> dict:
    from ..tomography.alignment import align_iter, apply_alignment

    out = check_volume_suffix(Path(args.out))
    plan = OutputPlan.check([out, _angle_file(out), sidecar_path(out)], _inputs.series_inputs(args),
                            overwrite=args.overwrite)
    series = _inputs.read_series(args)
    # an angle the file records is used as it is; an estimated one is estimated again on the prepared data
    axis_angle = series.tilt_axis_angle if series.tilt_axis_source == "file" else "auto"
    keywords = dict(tilt_axis=series.tilt_axis, tilt_axis_angle=axis_angle, background=args.background,
                    contrast=args.contrast, method=args.method, n_iter=args.n_iter, max_shift=args.max_shift,
                    centre=not args.no_centre)
    steps = 1 + (args.n_iter or 5) * (args.method == "projection-matching")
    start = time.perf_counter()
    step = None
    with progress_bar(total=steps, unit="step", desc=f"align ({args.method})", quiet=args.quiet) as bar:
        for step in align_iter(series.data, series.angles, device=args.device, **keywords):
            bar.update(1)
    aligned = apply_alignment(series.data, step)
    elapsed = time.perf_counter() - start
    conventions = _conventions(series, step.preparation, args)
    if not args.quiet:
        print(f"napari-invprob: {step.describe_axis()}; drift up to {np.abs(step.shifts).max():.1f} pixels",
              file=sys.stderr)
    plan.write_text(_angle_file(out), _angle_text(series.angles))
    parameters = {**keywords, "angles": series.angles}
    entry = record("alignment", method=args.method, parameters=parameters, source=args.input,
                   iterations=step.iteration, elapsed=elapsed, shifts=step.shifts, rotation=step.rotation,
                   tilt_axis_estimates=[e.summary() for e in step.axis_estimates],
                   angle_file=str(_angle_file(out).resolve()), **conventions)
    return _finish(plan, out, np.asarray(aligned, dtype=np.float32), _voxel_size(args, series.pixel_size), entry)


def simulate(args) -> dict:
    from .. import simulate as sim
    from ..files import read_angle_file

    out = check_volume_suffix(Path(args.out))
    files = [out, sidecar_path(out)] + ([_angle_file(out)] if args.kind == "project" else [])
    plan = OutputPlan.check(files, [args.input, getattr(args, "psf", None), getattr(args, "angles", None)],
                            overwrite=args.overwrite)
    image, pixel_size = _inputs.read_image(args.input)
    start = time.perf_counter()
    result_axes = None  # a projection's axes are (angle, y, x), the writer's default
    if args.kind == "blur":
        axes = _inputs.file_axes(args.input, image)
        axis = _inputs.channel_axis(args.channel_axis, image, axes)
        _inputs.say_axes_from_file(args, axes, axis)
        result_axes = _inputs.result_axes(axes, image.ndim, axis, None)
        check_axes_fit(out, result_axes)
        psf, psf_record = _inputs.psf_from_flags(args, _inputs.spatial_shape(image, axis), pixel_size)
        result = sim.blur(image, psf, args.noise, args.seed, channel_axis=axis, boundary=args.boundary)
        parameters = dict(psf_source=psf_record, noise_sigma=args.noise, seed=args.seed, channel_axis=axis,
                          boundary=args.boundary)
    else:
        angles = _inputs.angles_from_flags(args)
        if angles is None:
            raise CliError("simulate project needs --angle-range FIRST LAST --n-angles N or --angles FILE")
        if isinstance(angles, str):
            angles = read_angle_file(angles)
        result = sim.project(image, angles, args.noise, args.seed, tilt_axis=args.tilt_axis)
        parameters = dict(angles=np.asarray(angles), noise=args.noise, seed=args.seed, tilt_axis=args.tilt_axis)
        plan.write_text(_angle_file(out), _angle_text(angles))
    entry = record("simulation", method=args.kind, parameters=parameters, source=args.input,
                   iterations=1, elapsed=time.perf_counter() - start)
    return _finish(plan, out, np.asarray(result, dtype=np.float32), _voxel_size(args, pixel_size), entry, result_axes)


def denoise(args) -> dict:
    from ..distributed.denoising import DEFAULT_DENOISE_OVERLAP, denoise_distributed
    from ..priors.denoisers import denoise as denoise_image
    from ..priors.denoisers import noise_level

    out = check_volume_suffix(Path(args.out))
    plan = _plan(out, [args.input, args.reference], args)
    image, pixel_size = _inputs.read_image(args.input)
    streamed, image = _streamed(args, image, "denoise")
    axes = _inputs.file_axes(args.input, image)
    axis = _inputs.channel_axis(args.channel_axis, image, axes)
    _inputs.say_axes_from_file(args, axes, axis)
    layout = _inputs.result_axes(axes, image.ndim, axis, None)
    check_axes_fit(out, layout)
    reference = _inputs.reference(args.reference, image.shape)
    if args.scheduler is None and (args.tile_size is not None or args.overlap is not None):
        raise CliError("--tile-size and --overlap go with --scheduler")
    start = time.perf_counter()
    if args.scheduler is None:
        sigma = args.sigma if args.sigma is not None else noise_level(image, channel_axis=axis)
        result = denoise_image(image, method=args.method, sigma=sigma, channel_axis=axis, device=args.device)
        run = {}
    else:
        tile_shape = None if args.tile_size is None else (
            args.tile_size[0] if len(args.tile_size) == 1 else tuple(args.tile_size))
        sigma = args.sigma if args.sigma is not None or streamed else noise_level(image, channel_axis=axis)
        progress = ChunkProgress(desc=args.method, quiet=args.quiet)
        try:
            result = denoise_distributed(
                args.input if streamed else image, scheduler=args.scheduler, method=args.method, sigma=sigma,
                channel_axis=axis, tile_shape=tile_shape, overlap=DEFAULT_DENOISE_OVERLAP if args.overlap is None
                else args.overlap, retries=args.retries, progress=progress, out=out if _inputs.is_zarr(out) else None,
                overwrite=args.overwrite, device=args.device)
        finally:
            progress.close()
        run = _run_record(out, streamed)
        sigma = run.pop("parameters", {}).get("sigma", sigma)  # estimated on the cluster's input when streamed
    entry = record("denoising", method=args.method, parameters=dict(sigma=args.sigma, channel_axis=axis),
                   source=args.input, iterations=1, elapsed=time.perf_counter() - start, noise_sigma=sigma,
                   scheduler=args.scheduler, **_quality(reference, result, axis), **run)
    return _finish(plan, out, result, _voxel_size(args, pixel_size), entry, layout)


def deskew(args) -> dict:
    from ..deconvolution.deskew import (
        check_parameters,
        deskewed_voxel_size,
        rotate_to_coverslip,
        skew_background,
    )
    from ..deconvolution.deskew import deskew as deskew_stack
    from ..distributed.deskew import deskew_distributed
    from ..files.tiff import ANGSTROM_PER_UNIT

    unit = "µm" if args.unit == "um" else args.unit
    angle, step, pixel_size, direction, fill = check_parameters(
        angle=args.angle, step=args.step, pixel_size=args.pixel_size, direction=args.direction, fill=args.fill)
    if args.scheduler is None and args.chunk_planes is not None:
        raise CliError("--chunk-planes goes with --scheduler")
    if args.scheduler is not None and args.frame == "coverslip":
        raise CliError("--scheduler deskews in chunks of planes; --frame coverslip runs here")
    out = check_volume_suffix(Path(args.out))
    plan = OutputPlan.check([out, sidecar_path(out)], [args.input], overwrite=args.overwrite)
    stack, file_size = _inputs.read_image(args.input)
    if np.ndim(stack) != 3:
        raise CliError(f"{args.input} has shape {np.shape(stack)}; deskew takes a 3D stack (planes, rows, columns)")
    _, stack = _streamed(args, stack, "deskew")  # an OME-Zarr input stays lazy on dask, else is read whole
    per_unit = ANGSTROM_PER_UNIT[unit]
    recorded = file_size[-1] if isinstance(file_size, tuple) else file_size
    if recorded and not args.quiet and abs(recorded / per_unit - pixel_size) > 0.01 * pixel_size:
        print(f"napari-invprob: the file records pixels of {recorded / per_unit:.4g} {unit}; using --pixel-size "
              f"{pixel_size:g} {unit}", file=sys.stderr)
    start = time.perf_counter()
    if fill == "auto":
        fill = skew_background(stack)
        if not args.quiet:
            print(f"napari-invprob: new pixels get the background {fill:.4g} (the camera's offset, estimated; "
                  "--fill sets it)", file=sys.stderr)
    geometry = dict(angle=angle, step=step, pixel_size=pixel_size, direction=direction, fill=fill)
    if args.frame == "coverslip":
        result, voxel_size, method = rotate_to_coverslip(stack, **geometry), (pixel_size,) * 3, "rotate_to_coverslip"
    elif args.scheduler is None:
        result, method = deskew_stack(stack, **geometry), "deskew"
        voxel_size = deskewed_voxel_size(angle=angle, step=step, pixel_size=pixel_size)
    else:
        voxel_size, method = deskewed_voxel_size(angle=angle, step=step, pixel_size=pixel_size), "deskew"
        target = None
        if _inputs.is_zarr(out):  # written chunk by chunk as the pieces return: the result is never held whole
            from ..deconvolution.deskew import deskewed_shape
            from ..files.zarr import create_zarr

            target = create_zarr(out, deskewed_shape(np.shape(stack), angle=angle, step=step, pixel_size=pixel_size),
                                 axes="ZYX", voxel_size=[size * per_unit for size in voxel_size], unit="Å",
                                 overwrite=args.overwrite, source=args.input)
        progress = ChunkProgress(desc="deskew", quiet=args.quiet)
        try:
            result = deskew_distributed(stack, **geometry, scheduler=args.scheduler, chunk_planes=args.chunk_planes,
                                        retries=args.retries, progress=progress, out=target)
        finally:
            progress.close()
        if target is not None:
            from ..files.zarr import finish_zarr, read_zarr

            finish_zarr(out)  # the pyramid; _finish records the provenance
            result = read_zarr(out).data
    entry = record("light sheet", method=method, parameters=geometry, source=args.input, iterations=1,
                   elapsed=time.perf_counter() - start, unit=unit, scheduler=args.scheduler,
                   voxel_size_in_unit=list(voxel_size))
    return _finish(plan, out, result, tuple(size * per_unit for size in voxel_size), entry)


def demo(args) -> dict:
    """The lecture's case: the astronaut blurred by a 7x7 Gaussian (σ 4) plus noise (σ 0.05), restored."""
    from .._shared.device import to_numpy
    from ..datasets import lecture_astronaut
    from ..deconvolution.deconvolve import deconvolve_iter
    from ..deconvolution.methods import METHODS

    directory = Path(args.out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    names = {k: directory / f"{k}.tif" for k in ("clean", "blurred", "psf", "restored")}
    plan = OutputPlan.check([*names.values(), sidecar_path(names["restored"])], [], overwrite=args.overwrite)
    case = lecture_astronaut(seed=0)
    spec = METHODS[args.method]
    n_iter = args.n_iter or spec.default_n_iter
    final = follow(
        deconvolve_iter(case.blurred, case.psf, method=args.method, lam=args.lam, n_iter=args.n_iter,
                        channel_axis=case.channel_axis, device=args.device),
        total=n_iter, desc=args.method, quiet=args.quiet,
    )
    restored = to_numpy(final.x)
    for key, array in (("clean", case.clean), ("blurred", case.blurred), ("psf", case.psf)):
        plan.write_volume(names[key], array, None)
    quality_in = _quality(case.clean, case.blurred, case.channel_axis)
    quality_out = _quality(case.clean, restored, case.channel_axis)
    parameters = dict(method=args.method, lam=args.lam if args.lam is not None else spec.default_lam,
                      n_iter=n_iter, channel_axis=case.channel_axis, boundary="periodic")
    entry = record("deconvolution", method=args.method, parameters=parameters, source=None,
                   iterations=final.iteration, elapsed=final.elapsed,
                   psf_source={"gaussian": {"sigma": [4.0, 4.0], "size": [7, 7]}},
                   input_psnr_db=quality_in["psnr_db"], input_ssim=quality_in["ssim"], **quality_out)
    summary = _finish(plan, names["restored"], restored, None, entry)
    if not args.quiet and not args.json:
        print(f"the lecture's case: astronaut 512x512 RGB, 7x7 Gaussian PSF (σ 4), noise σ 0.05\n"
              f"  blurred input    PSNR {quality_in['psnr_db']:6.2f} dB   SSIM {quality_in['ssim']:.3f}\n"
              f"  {args.method:<16} PSNR {quality_out['psnr_db']:6.2f} dB   SSIM {quality_out['ssim']:.3f}"
              f"   ({final.iteration} iterations, {final.elapsed:.2f} s)\n"
              f"  written to {directory}/: clean.tif blurred.tif psf.tif restored.tif restored.tif.json")
    return summary


COMMANDS = {"deconvolve": deconvolve, "reconstruct": reconstruct, "align": align, "simulate": simulate,
            "denoise": denoise, "deskew": deskew, "demo": demo}
