"""Turning flags and files into the arrays the Python calls take: images, PSFs, angles, references."""

from __future__ import annotations

import math
import os
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


def read_image(path: str) -> tuple[np.ndarray, float | None]:
    """An input image and its pixel size (Å or None), as :func:`napari_invprob.io.read_image`."""
    return io.read_image(path)


def channel_axis(spec, data: np.ndarray) -> int | None:
    """The channel axis a ``--channel-axis`` value means for ``data``.

    ``"auto"``: the last axis of a 2D colour image (three axes, the last of length 3 or 4); ``"none"``:
    no channel axis; an integer: that axis.
    """
    if spec == "none":
        return None
    if spec == "auto":
        return -1 if data.ndim == 3 and data.shape[-1] in (3, 4) else None
    if not -data.ndim <= spec < data.ndim:
        raise CliError(f"--channel-axis {spec} is out of range for an image of shape {data.shape}")
    return spec


def spatial_ndim(data: np.ndarray, axis: int | None) -> int:
    return data.ndim - (axis is not None)


def psf_from_flags(args, ndim: int) -> tuple[np.ndarray, dict]:
    """The PSF the flags describe (normalised to sum 1) and how to record it.

    ``--psf FILE`` reads a centred PSF; ``--psf-sigma`` (one value or one per axis) with ``--psf-size``
    (default: the odd size ``2 ceil(3σ) + 1`` per axis) makes a Gaussian with
    :func:`napari_invprob.psf.gaussian`.
    """
    if args.psf is not None:
        if args.psf_size is not None:
            raise CliError("--psf-size goes with --psf-sigma, not with a PSF file")
        psf, _ = io.read_image(args.psf)
        psf = np.asarray(psf, dtype=np.float32)
        if psf.ndim != ndim:
            raise CliError(f"the PSF in {args.psf} has {psf.ndim} axes but the image has {ndim} spatial axes")
        total = float(psf.sum())
        if not math.isfinite(total) or total <= 0:
            raise CliError(f"the PSF in {args.psf} does not have a positive sum; it cannot be normalised")
        return psf / np.float32(total), {"file": str(Path(args.psf).resolve())}
    from ..psf import gaussian

    sigma = _per_axis(args.psf_sigma, "--psf-sigma", ndim)
    if any(s <= 0 for s in sigma):
        raise CliError(f"--psf-sigma must be positive, got {' '.join(map(str, args.psf_sigma))}")
    size = (tuple(2 * math.ceil(3 * s) + 1 for s in sigma) if args.psf_size is None
            else _per_axis(args.psf_size, "--psf-size", ndim))
    return gaussian(tuple(int(n) for n in size), tuple(sigma)), {"gaussian": {"sigma": list(sigma), "size": list(size)}}


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
    (:func:`napari_invprob.io.read_tilt_series`; ``--tilt-axis`` overrides the file's)."""
    return io.read_tilt_series(args.input, angles=angles_from_flags(args), tilt_axis=args.tilt_axis)


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


def options(pairs) -> dict:
    """``--option KEY=VALUE`` pairs as keyword arguments (a repeated key is an error)."""
    result = {}
    for key, value in pairs:
        if key in result:
            raise CliError(f"--option {key} is given twice")
        result[key] = value
    return result
