"""Turning flags and files into the arrays the Python calls take: images, PSFs, angles, references."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np

from .. import io
from .errors import CliError

#: The flags that name input files.
INPUT_FLAGS = ("input", "psf", "reference", "angles")


def check_input_paths(args) -> None:
    """Refuse an input file named with a trailing separator (``good.mrc/``), before any work.

    A path ending in ``/`` names a directory; a file of that name would otherwise be read as if the
    ``/`` were not there (``pathlib`` drops it).
    """
    for flag in INPUT_FLAGS:
        value = getattr(args, flag, None)
        if isinstance(value, str) and value.endswith(("/", os.sep)) and not Path(value).is_dir():
            name = "input" if flag == "input" else f"--{flag}"
            raise CliError(f"{name} {value} ends in '/' but is not a directory; drop the trailing '/'")


def is_zarr(path) -> bool:
    """Whether ``path`` names an OME-Zarr store (``.zarr``)."""
    return path is not None and Path(path).suffix.lower() in io.ZARR_SUFFIXES


def is_lazy(data) -> bool:
    """Whether ``data`` is read chunk by chunk (a dask array, from OME-Zarr)."""
    return not hasattr(data, "__array_interface__") and hasattr(data, "dask")


def read_image(path: str) -> tuple[np.ndarray, float | tuple[float, float, float] | None]:
    """An input image and its voxel size in Å: ``(z, y, x)`` for a TIFF z-stack, hyperstack or series
    of them that records all three (ImageJ or OME, :func:`napari_invprob.files.tiff.read_tiff`; the
    ``Z``, ``Y`` and ``X`` sizes wherever the channel and time axes sit) or an OME-Zarr volume that
    records them, else the pixel size (or None) as :func:`napari_invprob.io.read_image` gives it.
    OME-Zarr stays lazy (a dask array)."""
    if is_zarr(path):
        volume = io.read_volume(path)
        sizes = volume.voxel_size
        if volume.axes.endswith("ZYX") and all(sizes[-3:]):
            return volume.data, tuple(sizes[-3:])
        return volume.data, sizes[-1]
    if Path(path).suffix.lower() in io.TIFF_SUFFIXES and Path(path).is_file():
        from ..files.tiff import read_tiff

        image = read_tiff(path)
        sizes = dict(zip(image.axes, image.voxel_size))
        if all(sizes.get(axis) for axis in "ZYX"):
            return image.data, tuple(sizes[axis] for axis in "ZYX")
        return image.data, image.pixel_size
    return io.read_image(path)


def file_axes(path: str, data: np.ndarray) -> str | None:
    """The axes a TIFF records for ``data`` read from ``path`` (an ImageJ hyperstack's or OME's, e.g.
    ``"TCZYX"``; RGB samples, tifffile's ``S``, named ``C``) or an OME-Zarr store's, or None for other
    files or axes that do not match ``data``."""
    if is_zarr(path):
        axes = io.read_volume(path).axes
        return axes if len(axes) == data.ndim else None
    if Path(path).suffix.lower() not in io.TIFF_SUFFIXES or not Path(path).is_file():
        return None
    import tifffile

    with tifffile.TiffFile(path) as tif:
        axes = tif.series[0].axes
    axes = axes if "C" in axes else axes.replace("S", "C")
    return axes if len(axes) == data.ndim else None


def channel_axis(spec, data: np.ndarray, axes: str | None = None) -> int | None:
    """The channel axis a ``--channel-axis`` value means for ``data``, counted from 0.

    ``"auto"``: the ``C`` axis of the file's ``axes`` (:func:`file_axes`), else the last axis of a 2D
    colour image (three axes, the last of length 3 or 4); ``"none"``: no channel axis; an integer: that
    axis (negative ones count from the end).
    """
    if spec == "none":
        return None
    if spec == "auto":
        if axes is not None and "C" in axes:
            return axes.index("C")
        return data.ndim - 1 if data.ndim == 3 and data.shape[-1] in (3, 4) else None
    if not -data.ndim <= spec < data.ndim:
        raise CliError(f"--channel-axis {spec} is out of range for an image of shape {data.shape}")
    return spec % data.ndim


def time_axis(spec, data: np.ndarray, axes: str | None = None) -> int | None:
    """The time axis a ``--time-axis`` value means for ``data``: ``"auto"``: the ``T`` axis of the
    file's ``axes`` (:func:`file_axes`), else none; ``"none"``; an integer: that axis."""
    if spec == "none":
        return None
    if spec == "auto":
        return axes.index("T") if axes is not None and "T" in axes else None
    if not -data.ndim <= spec < data.ndim:
        raise CliError(f"--time-axis {spec} is out of range for an image of shape {data.shape}")
    return spec % data.ndim


def result_axes(axes: str | None, ndim: int, channel: int | None, time: int | None) -> str | None:
    """The axes of a result laid out as its input (``TZCYX`` letters): the file's own when they fit, else
    ``C`` and ``T`` where the channel and time axes are (counted from 0) and the spatial axes around
    them; None when the result has neither (the writer's default then holds)."""
    if channel is None and time is None:
        return None
    if axes is not None and len(axes) == ndim and set(axes) <= set("TZCYX"):
        return axes
    letters = ["C" if i == channel else "T" if i == time else "" for i in range(ndim)]
    if letters.count("") > len("ZYX"):
        raise CliError(f"the image has {letters.count('')} axes beside its channel and time axes; at most 3 (z, y, x) "
                       "are spatial: check --channel-axis and --time-axis")
    spatial = iter("ZYX"[-letters.count(""):])
    return "".join(letter or next(spatial) for letter in letters)


def say_axes_from_file(args, axes: str | None, channel: int | None, time: int | None = None) -> None:
    """Tell the user (stderr) which axes were taken from the file's axes because no flag set them."""
    taken = [(name, axis) for name, axis in (("channel", channel), ("time", time))
             if getattr(args, f"{name}_axis", None) == "auto" and axes is not None and axis is not None and axis >= 0]
    if taken and not args.quiet:
        said = " and ".join(f"{name} axis {axis} ({axes[axis]})" for name, axis in taken)
        flags = " / ".join(f"--{name}-axis" for name, _ in taken)
        print(f"napari-invprob: {said} from the file's axes {axes!r} ({flags} sets it)", file=sys.stderr)


def spatial_shape(data: np.ndarray, axis: int | None, time: int | None = None) -> tuple[int, ...]:
    """The image's shape without its channel axis and its time axis."""
    dropped = {a % data.ndim for a in (axis, time) if a is not None}
    return tuple(n for i, n in enumerate(data.shape) if i not in dropped)


#: The flags of the optics, in the order they are described; they go with ``--psf-model``.
OPTICS_FLAGS = ("na", "wavelength", "ni", "ns", "ng", "depth", "excitation", "pinhole", "voxel_size")
#: The flags of a PSF file's preparation; they go with ``--psf`` (``--voxel-size`` too, or the optics).
PSF_FILE_FLAGS = ("psf_voxel_size", "psf_background")


def psf_from_flags(args, shape: tuple[int, ...], file_voxel_size=None) -> tuple[np.ndarray, dict]:
    """The PSF the flags describe for an image of spatial ``shape`` (normalised to sum 1) and how to
    record it.

    ``--psf FILE`` reads a centred PSF; ``--psf-sigma`` (one value or one per axis) with ``--psf-size``
    (default: the odd size ``2 ceil(3σ) + 1`` per axis) makes a Gaussian with
    :func:`napari_invprob.psf.gaussian`; ``--psf-model`` with the optics flags computes
    :func:`napari_invprob.psf.optical_psf` on the image's grid, the voxel size from ``--voxel-size``
    or else the file's (``file_voxel_size``, Å, as :func:`read_image` gives it). A PSF file is prepared
    (:func:`_psf_file`).
    """
    ndim = len(shape)
    if args.psf is None:
        given = [flag for flag in PSF_FILE_FLAGS if getattr(args, flag, None) is not None]
        if given:
            raise CliError(f"--{given[0].replace('_', '-')} goes with --psf (a PSF file)")
    if args.psf_model is None:
        given = [flag for flag in OPTICS_FLAGS if getattr(args, flag) is not None
                 and not (flag == "voxel_size" and args.psf is not None)]
        if given:
            raise CliError(f"--{given[0].replace('_', '-')} goes with --psf-model"
                           + (" or --psf" if given[0] == "voxel_size" else ""))
    else:
        return _optics_psf(args, shape, file_voxel_size)
    if args.psf is not None:
        if args.psf_size is not None:
            raise CliError("--psf-size goes with --psf-sigma, not with a PSF file")
        return _psf_file(args, ndim, file_voxel_size)
    from ..deconvolution.psf import gaussian

    sigma = _per_axis(args.psf_sigma, "--psf-sigma", ndim)
    if any(s <= 0 for s in sigma):
        raise CliError(f"--psf-sigma must be positive, got {' '.join(map(str, args.psf_sigma))}")
    size = (tuple(2 * math.ceil(3 * s) + 1 for s in sigma) if args.psf_size is None
            else _per_axis(args.psf_size, "--psf-size", ndim))
    if any(n > m for n, m in zip(size, shape)):
        flag = "--psf-size" if args.psf_size is not None else "--psf-sigma (σ in pixels makes a PSF 2·ceil(3σ)+1 wide)"
        raise CliError(f"the Gaussian PSF of {' x '.join(map(str, size))} pixels is larger than the image "
                       f"({' x '.join(map(str, shape))}): check {flag}")
    return gaussian(tuple(int(n) for n in size), tuple(sigma)), {"gaussian": {"sigma": list(sigma), "size": list(size)}}


def _psf_file(args, ndim: int, file_voxel_size) -> tuple[np.ndarray, dict]:
    """``--psf FILE`` prepared as :func:`napari_invprob.deconvolve` prepares a PSF
    (:func:`~napari_invprob.deconvolution.measured_psf.prepare_psf`: a bead stack's background, centre,
    box), resampled onto the image's grid when both voxel sizes are known (the image's from
    ``--voxel-size`` or its file, the PSF's from ``--psf-voxel-size`` or its file); what was done, or
    that a size is unknown, said on stderr and recorded."""
    from ..deconvolution.measured_psf import prepare_psf

    psf, psf_file_voxel = read_image(args.psf)
    if np.ndim(psf) != ndim:
        raise CliError(f"the PSF in {args.psf} has {np.ndim(psf)} axes but the image has {ndim} spatial axes")
    total = float(np.sum(psf, dtype=np.float64))
    if not math.isfinite(total) or total <= 0:
        raise CliError(f"the PSF in {args.psf} does not have a positive sum; it cannot be normalised")
    voxel = _flag_or_file_voxel_um(args.voxel_size, "--voxel-size", file_voxel_size, ndim)
    psf_voxel = _flag_or_file_voxel_um(args.psf_voxel_size, "--psf-voxel-size", psf_file_voxel, ndim)
    background = "auto" if args.psf_background is None else args.psf_background
    kernel, report = prepare_psf(psf, background=background, voxel_size=voxel, psf_voxel_size=psf_voxel)
    if not args.quiet:
        for message in ([str(report)] if report.changed else []) + list(report.warnings):
            print(f"napari-invprob: PSF {args.psf}: {message}", file=sys.stderr)
    kernel = (kernel / np.sum(kernel, dtype=np.float64)).astype(np.float32)
    return kernel, {"file": str(Path(args.psf).resolve()), "psf_background": background,
                    "voxel_size": None if voxel is None else list(voxel),
                    "psf_voxel_size": None if psf_voxel is None else list(psf_voxel),
                    "preparation": report.as_dict()}


def _flag_or_file_voxel_um(flag, name: str, file_voxel_size, ndim: int) -> tuple[float, ...] | None:
    """A voxel size in µm in napari's order from a flag (``X,Y[,Z]``, as microscopes state it), else from
    the file (Å, as :func:`read_image` gives it), else None."""
    if flag is not None:
        if len(flag) != ndim:
            raise CliError(f"{name} takes {ndim} values for {ndim} spatial axes (X,Y{',Z' if ndim == 3 else ''}), "
                           f"got {len(flag)}")
        return tuple(reversed(flag))
    return _file_voxel_um(file_voxel_size, ndim)


def _file_voxel_um(file_voxel_size, ndim: int) -> tuple[float, ...] | None:
    """The file's voxel size (Å: a ``(z, y, x)`` tuple or a pixel size) in µm for ``ndim`` axes, or None."""
    if isinstance(file_voxel_size, tuple) and ndim == 3:
        return tuple(v / 1e4 for v in file_voxel_size)
    if isinstance(file_voxel_size, (int, float)) and file_voxel_size and ndim == 2:
        return (file_voxel_size / 1e4,) * 2
    return None


def _optics_psf(args, shape: tuple[int, ...], file_voxel_size) -> tuple[np.ndarray, dict]:
    """``--psf-model`` and the optics flags: the PSF on the image's grid, said on stderr, and its record
    (the keyword arguments of :func:`napari_invprob.psf.optical_psf`)."""
    import sys

    from ..deconvolution.optics import optical_psf, wavelength_um

    if args.psf_size is not None:
        raise CliError("--psf-size goes with --psf-sigma; --psf-model sizes the PSF to hold 99 % of its energy")
    missing = [flag for flag in ("na", "wavelength") if getattr(args, flag) is None]
    if missing:
        raise CliError(f"--psf-model needs --{' and --'.join(missing)}")
    voxel, origin = _voxel_size_um(args.voxel_size, file_voxel_size, len(shape))
    parameters = dict(model=args.psf_model, image_shape=tuple(shape), voxel_size=voxel, na=args.na,
                      wavelength=wavelength_um(args.wavelength, "--wavelength", unit="nm"),
                      ni=1.518 if args.ni is None else args.ni)
    optional = {"ns": args.ns, "ng": args.ng, "depth": args.depth, "pinhole": args.pinhole,
                "excitation_wavelength": None if args.excitation is None
                else wavelength_um(args.excitation, "--excitation", unit="nm")}
    parameters.update({name: value for name, value in optional.items() if value is not None})
    kernel = optical_psf(**parameters)
    if not args.quiet:
        print(f"napari-invprob: PSF {args.psf_model}, NA {args.na:g}, emission {args.wavelength:g} nm, "
              f"immersion n {parameters['ni']:g}, voxel {' x '.join(f'{v:g}' for v in voxel)} µm (z y x, {origin}): "
              f"{' x '.join(map(str, kernel.shape))} pixels hold 99 % of its energy", file=sys.stderr)
    return kernel, {"model": {**parameters, "image_shape": list(shape), "voxel_size": list(voxel)}}


def _voxel_size_um(flag, file_voxel_size, ndim: int) -> tuple[tuple[float, ...], str]:
    """The voxel size in µm in napari's order, ``(y, x)`` or ``(z, y, x)``, and where it came from:
    ``--voxel-size X,Y[,Z]`` (as microscopes state it), else the file's (Å)."""
    if flag is not None:
        if len(flag) != ndim:
            raise CliError(f"--voxel-size takes {ndim} values for an image with {ndim} spatial axes (X,Y"
                           f"{',Z' if ndim == 3 else ''}), got {len(flag)}")
        return tuple(reversed(flag)), "--voxel-size"
    voxel = _file_voxel_um(file_voxel_size, ndim)
    if voxel is not None:
        return voxel, "from the file"
    raise CliError("the file does not record its voxel size: give --voxel-size X,Y" + (",Z" if ndim == 3 else "")
                   + " in µm (e.g. 0.065,0.065,0.2); --pixel-size only sets the size recorded in the output")


def _per_axis(values, flag: str, ndim: int) -> tuple:
    if len(values) == 1:
        return tuple(values) * ndim
    if len(values) != ndim:
        raise CliError(f"{flag} takes one value or one per axis ({ndim}), got {len(values)}")
    return tuple(values)


def angles_from_flags(args):
    """What ``--angles`` / ``--angle-range`` say: a file path, an array of degrees, or None (sidecar)."""
    if args.angle_range is not None:
        if args.n_angles is None:
            raise CliError("--angle-range needs --n-angles")
        first, last = args.angle_range
        if max(abs(first), abs(last)) > 360:
            raise CliError(f"--angle-range {first:g} {last:g}: tilt angles are in degrees, within ±360")
        return np.linspace(first, last, args.n_angles)
    if args.n_angles is not None:
        raise CliError("--n-angles goes with --angle-range")
    return args.angles


def series_inputs(args) -> list:
    """The files a tilt-series command reads: the stack, an angle file, and the sidecars beside the stack."""
    sidecars = [p for p in io.sidecar_angle_files(args.input) if p.is_file()]
    return [args.input, args.angles, *sidecars]


def read_series(args):
    """The tilt series of ``args.input`` with its angles and conventions
    (:func:`napari_invprob.io.read_tilt_series`; ``--tilt-axis`` overrides the file's). An OME-Zarr
    series stays lazy: its angles come from the flags or a sidecar beside it, its tilt axis from
    ``--tilt-axis`` or estimated from the projections, read once a block at a time
    (:func:`~napari_invprob.tomography.files.tilt_series_with_conventions`)."""
    if not is_zarr(args.input):
        return io.read_tilt_series(args.input, angles=angles_from_flags(args), tilt_axis=args.tilt_axis)
    from ..tomography.files import tilt_series_with_conventions

    volume = io.read_volume(args.input)
    angles = angles_from_flags(args)
    if angles is None:
        found = io.find_angles(args.input)
        if found is None:
            raise CliError(f"no tilt angles for {args.input}: pass --angles FILE or --angle-range FIRST LAST "
                           "--n-angles N, or put a .tlt/.rawtlt beside it")
        angles, source = found[0], found[1]
    elif isinstance(angles, str):
        angles, source = io.read_angle_file(angles), Path(angles).name
    else:
        source = "given"
    angles = np.asarray(angles, dtype=np.float64).ravel()
    if angles.size != volume.data.shape[0]:
        raise CliError(f"{source} lists {angles.size} angles but {args.input} holds {volume.data.shape[0]} projections")
    return tilt_series_with_conventions(volume.data, angles, volume.voxel_size[-1], source, tilt_axis=args.tilt_axis)


def in_memory(data, path: str, command: str) -> np.ndarray:
    """A lazy input read whole for a run in this process, unless it would not fit: then a message naming
    the command that runs it on dask, zarr to zarr."""
    if not is_lazy(data):
        return data
    import psutil

    needed = 4 * int(np.prod(data.shape))
    available = psutil.virtual_memory().available
    if 4 * needed > available:  # the input and a solver's few float32 copies of it
        raise CliError(f"{path} holds {needed / 2**30:.1f} GiB (float32), too much to process in this process "
                       f"({available / 2**30:.1f} GiB free); run it tile by tile on dask: napari-invprob {command} "
                       f"{path} --out OUT.zarr --scheduler local:2")
    return np.asarray(data)


def reference(path: str | None, shape: tuple[int, ...] | None) -> np.ndarray | None:
    """The ``--reference`` image, which must have the result's shape (checked here unless None)."""
    if path is None:
        return None
    data = np.asarray(io.read_image(path)[0], dtype=np.float32)
    if shape is not None:
        check_shape(data, shape, path)
    return data


def check_shape(reference: np.ndarray | None, shape: tuple[int, ...], path) -> None:
    """Refuse a reference whose shape is not the result's."""
    if reference is not None and reference.shape != tuple(shape):
        raise CliError(f"the reference {path} has shape {reference.shape} but the result has shape {tuple(shape)}")


#: Keywords set by a flag of their own, with the flag (``--option`` may not set them too).
_FLAG_OF = {"nonneg": "--allow-negative"}


def with_options(keywords: dict, pairs) -> dict:
    """``keywords`` with the ``--option KEY=VALUE`` pairs added (a repeated key, or a key that a flag of
    its own sets, is an error naming that flag)."""
    result = dict(keywords)
    given = set()
    for key, value in pairs:
        if key in given:
            raise CliError(f"--option {key} is given twice")
        if key in keywords:
            flag = _FLAG_OF.get(key, "--" + key.replace("_", "-"))
            raise CliError(f"--option {key}=...: {key} is set by its own flag here ({flag}), not by --option")
        given.add(key)
        result[key] = value
    return result
