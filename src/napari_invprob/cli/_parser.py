"""The argument parser: subcommands, flags spelled like the Python keywords, examples in ``--help``.

Method choices and their one-line summaries come from the problems' ``METHODS`` tables, so the command
line offers exactly what the Python calls accept, with the same defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import re

from .._version import __version__
from ..distributed.cluster import check_scheduler
from ..tomography.preparation import CONTRASTS
from .errors import CliError

#: What a negative number looks like on the command line (argparse reads this attribute).
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class _Parser(argparse.ArgumentParser):
    """Reports an argument error as a :class:`CliError` (one line, exit 2) instead of printing usage, and
    takes every negative number as a value, ``-1e9`` and ``-.5e3`` too (argparse's own pattern knows only
    ``-1`` and ``-1.5``, so ``--angle-range -1e9 1e9`` was "expected 2 arguments")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message):
        raise CliError(message, prog=self.prog)


def _int_at_least(minimum: int):
    """An argparse ``type`` accepting integers >= ``minimum``."""
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _lam(text: str):
    if text == "auto":
        return text
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"λ must be >= 0 or 'auto', got {text!r}")
    return value


def _option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` for a method's own keyword; the value is read as JSON when it parses (numbers,
    true/false, null, lists), else kept as text."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def _scheduler(text: str) -> str:
    try:
        check_scheduler(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _channel_axis(text: str):
    if text in ("auto", "none"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or an axis number, got {text!r}") from None


def _methods_epilog(methods, title: str) -> str:
    width = max(len(name) for name in methods)
    lines = [f"{title}:"]
    for spec in methods.values():
        defaults = []
        if spec.uses_lam and spec.default_lam is not None:
            defaults.append(f"λ {spec.default_lam:g}")
        if spec.iterative:
            defaults.append(f"{spec.default_n_iter} iterations")
        suffix = f" [{', '.join(defaults)}]" if defaults else ""
        lines.append(f"  {spec.name:<{width}}  {spec.summary}{suffix}")
    return "\n".join(lines)


def _output_flags(parser: argparse.ArgumentParser, *, out_help: str) -> None:
    parser.add_argument("--out", "-o", required=True, metavar="FILE", help=out_help)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output (never an input)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary line")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def _common(parser: argparse.ArgumentParser, *, out_help: str) -> None:
    _output_flags(parser, out_help=out_help)
    parser.add_argument("--device", help="torch device (cpu, cuda, cuda:1, mps); default: the best available")
    parser.add_argument("--pixel-size", type=_positive_float, metavar="Å",
                        help="pixel size in ångström when the input file does not record it (or is wrong)")


def _solver_flags(parser: argparse.ArgumentParser, methods, *, default_method: str) -> None:
    parser.add_argument("--method", "-m", choices=list(methods), default=default_method, metavar="NAME",
                        help=f"method (default {default_method}; the list is below)")
    parser.add_argument("--lam", type=_lam, metavar="λ",
                        help="regularisation weight, or 'auto' to choose it from the data (default: the method's)")
    parser.add_argument("--n-iter", type=_positive_int, metavar="N",
                        help="iterations (default: the method's)")
    parser.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                        help="a method's own keyword, e.g. --option eps=1e-3 (repeatable)")
    parser.add_argument("--reference", metavar="FILE",
                        help="ground truth: report PSNR and SSIM of the result against it")


def _scale_out_flags(parser: argparse.ArgumentParser, *, piece: str) -> None:
    parser.add_argument("--scheduler", type=_scheduler, metavar="SPEC",
                        help="run on dask: local:N (N worker processes here) or tcp://host:port (a running "
                             f"dask scheduler); the {piece} become tasks")
    parser.add_argument("--retries", type=_non_negative_int, default=2, metavar="N",
                        help="how often dask re-runs a failed task (default 2)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run into its .zarr output: the chunks it wrote are kept "
                             "(with --scheduler and the same arguments)")


def _angle_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "angles (default: the sidecar .rawtlt/.tlt/.mdoc beside the input, or the MRC extended header)"
    )
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument("--angles", metavar="FILE", help="angle file: .tlt/.rawtlt (one per line) or .mdoc")
    exclusive.add_argument("--angle-range", type=_finite_float, nargs=2, metavar=("FIRST", "LAST"),
                           help="evenly spaced angles in degrees from FIRST to LAST inclusive (with --n-angles)")
    group.add_argument("--n-angles", type=_positive_int, metavar="N", help="number of angles for --angle-range")


def _word_or_number(*words: str, non_negative: bool = False):
    """An argparse type taking one of ``words`` as it is, else a finite number (>= 0 with
    ``non_negative``); anything else is refused naming all it takes."""
    expected = f"expected {', '.join(words)} or a {'level >= 0' if non_negative else 'number'}"

    def parse(text: str):
        if text in words:
            return text
        try:
            value = _finite_float(text)
        except argparse.ArgumentTypeError:
            value = math.nan
        if math.isnan(value) or (non_negative and value < 0):
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}")
        return value

    return parse


_background = _word_or_number("auto", "none")


def _preparation_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "the file's conventions (default: resolved from the file and the data, and printed)"
    )
    group.add_argument("--tilt-axis", choices=["y", "x"],
                       help="image axis the specimen is tilted about: y (rows) or x (columns); default: from "
                            "the .mdoc or FEI header, else estimated from the projections")
    group.add_argument("--contrast", choices=list(CONTRASTS), default="auto",
                       help="dark-field (counts grow with mass, e.g. STEM HAADF) or bright-field (−log(I/I0) is "
                            "taken); default auto: detected")
    group.add_argument("--background", type=_background, default="auto", metavar="auto|none|LEVEL",
                       help="each projection's constant background: auto (estimated, removed when significant; "
                            "default), none (kept), or a level to subtract")


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _voxel_sizes(text: str) -> tuple[float, ...]:
    """``X,Y`` or ``X,Y,Z``: positive numbers separated by commas."""
    expected = f"expected X,Y or X,Y,Z in µm (e.g. 0.065,0.065,0.2), got {text!r}"
    try:
        values = tuple(_positive_float(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(expected) from None
    if len(values) not in (2, 3):
        raise argparse.ArgumentTypeError(expected)
    return values


_psf_background = _word_or_number("auto", "none", non_negative=True)


def _psf_flags(parser: argparse.ArgumentParser, *, required: bool) -> None:
    from ..deconvolution.optics import OPTICAL_MODELS

    group = parser.add_argument_group("point-spread function (a file, a centred Gaussian, or the optics)")
    exclusive = group.add_mutually_exclusive_group(required=required)
    exclusive.add_argument("--psf", metavar="FILE",
                           help="PSF image (TIFF/PNG/MRC), e.g. a bead stack: prepared before use (background "
                                "removed, centred, cropped, resampled onto the image's grid with both voxel "
                                "sizes; said on stderr), normalised to sum 1")
    exclusive.add_argument("--psf-sigma", type=_finite_float, nargs="+", metavar="σ",
                           help="Gaussian PSF width in pixels: one value, or one per axis (z y x)")
    exclusive.add_argument("--psf-model", choices=list(OPTICAL_MODELS),
                           help="a PSF from the optics on the image's grid, sized to hold 99 %% of its energy "
                                "(needs --na and --wavelength; the voxel size from the file or --voxel-size)")
    group.add_argument("--psf-size", type=_positive_int, nargs="+", metavar="N",
                       help="Gaussian PSF size in pixels, one value or one per axis (default: odd, about 6σ+1)")
    group.add_argument("--na", type=_positive_float, metavar="NA", help="numerical aperture (--psf-model)")
    group.add_argument("--wavelength", type=_positive_float, metavar="NM",
                       help="emission wavelength in vacuum, nm (--psf-model)")
    group.add_argument("--ni", type=_positive_float, metavar="N",
                       help="immersion refractive index (--psf-model; default 1.518, oil)")
    group.add_argument("--ns", type=_positive_float, metavar="N", help="sample refractive index (gibson-lanni)")
    group.add_argument("--ng", type=_positive_float, metavar="N",
                       help="coverslip refractive index (gibson-lanni; default 1.5)")
    group.add_argument("--depth", type=_finite_float, metavar="UM",
                       help="depth of the imaged plane below the coverslip, µm (gibson-lanni; default 0)")
    group.add_argument("--excitation", type=_positive_float, metavar="NM",
                       help="excitation wavelength in vacuum, nm (confocal)")
    group.add_argument("--pinhole", type=_positive_float, metavar="AU",
                       help="pinhole diameter in Airy units (confocal; default: a point)")
    group.add_argument("--voxel-size", type=_voxel_sizes, metavar="X,Y[,Z]",
                       help="the image's voxel size in µm, lateral first as microscopes state it (e.g. "
                            "0.065,0.065,0.2); default: the file's (ImageJ/OME TIFF)")
    group.add_argument("--psf-voxel-size", type=_voxel_sizes, metavar="X,Y[,Z]",
                       help="the PSF file's voxel size in µm (e.g. a bead stack at 0.104,0.104,0.1); default: "
                            "its file's; with the image's, the PSF is resampled onto the image's grid")
    group.add_argument("--psf-background", type=_psf_background, metavar="auto|none|LEVEL",
                       help="the PSF file's background (a bead stack's camera offset): auto (default: "
                            "estimated, removed when above the noise), none (kept), or a level to remove")


DECONVOLVE_EXAMPLES = """examples:
  napari-invprob deconvolve blurred.tif --psf-sigma 2 --psf-size 15 --out restored.tif
  napari-invprob deconvolve cells.tif --psf psf.tif --method richardson-lucy --n-iter 50 --out rl.tif
  napari-invprob deconvolve stack.tif --psf psf.tif --method rl-tv --background 100 --out rl.tif
  napari-invprob deconvolve stack.tif --psf-model born-wolf --na 1.4 --wavelength 520 --ni 1.518 \\
      --voxel-size 0.065,0.065,0.2 --method richardson-lucy --n-iter 50 --out rl.tif
  napari-invprob deconvolve rgb.png --psf-sigma 4 --psf-size 7 --lam 0.01 --reference clean.png --json --out r.tif
  napari-invprob deconvolve stack.tif --psf psf.tif --scheduler local:4 --tile-size 256 --out big.tif
  napari-invprob deconvolve deskewed.tif --psf beads.tif --psf-voxel-size 0.104,0.104,0.1 \
      --method richardson-lucy --out rl.tif          (the image's voxel size from its file)
  napari-invprob deconvolve big.zarr --psf psf.tif --method richardson-lucy --scheduler local:2 --out rl.zarr
      (bigger than memory: OME-Zarr in and out, tile by tile; --resume continues an interrupted run)
"""

RECONSTRUCT_EXAMPLES = """examples:
  napari-invprob reconstruct series.mrc --method sirt --n-iter 20 --out vol.mrc      (angles: series.rawtlt)
  napari-invprob reconstruct series.mrc --method tv --lam 0.01 --tilt-axis x --out vol.mrc
  napari-invprob reconstruct sino.tif --angle-range -70 70 --n-angles 50 --method fbp --out slice.tif
  napari-invprob reconstruct series.mrc --method sirt --scheduler local:2 --out vol.mrc
  napari-invprob reconstruct series.zarr --angles series.tlt --method sirt --scheduler local:2 --out vol.zarr
  napari-invprob reconstruct series.mrc --method sirt --scheduler tcp://head-node:8786 --out vol.mrc
"""

ALIGN_EXAMPLES = """examples:
  napari-invprob align raw.st --out aligned.mrc            (writes aligned.mrc, aligned.tlt and the shifts)
  napari-invprob align raw.mrc --angles raw.rawtlt --tilt-axis x --out aligned.mrc
"""

SIMULATE_EXAMPLES = """examples:
  napari-invprob simulate blur clean.tif --psf-sigma 4 --psf-size 7 --noise 0.05 --seed 0 --out blurred.tif
  napari-invprob simulate project volume.mrc --angle-range -70 70 --n-angles 50 --noise 0.01 --out series.mrc
"""

DENOISE_EXAMPLES = """examples:
  napari-invprob denoise noisy.tif --out denoised.tif                  (learned denoiser, noise level estimated)
  napari-invprob denoise stack.mrc --method tv --sigma 12.5 --out smooth.mrc
  napari-invprob denoise rgb.png --sigma 0.05 --reference clean.png --json --out denoised.tif
  napari-invprob denoise big.zarr --method tv --scheduler local:2 --out smooth.zarr      (tile by tile on dask)
"""

DESKEW_EXAMPLES = """examples:
  napari-invprob deskew raw.tif --angle 30 --step 0.4 --pixel-size 0.104 --out deskewed.tif
  napari-invprob deskew raw.tif --angle 30 --step 400 --pixel-size 104 --unit nm --direction -1 --out d.tif
  napari-invprob deskew raw.tif --angle 30 --step 0.4 --pixel-size 0.104 --frame coverslip --out upright.tif
  napari-invprob deskew long.tif --angle 30 --step 0.4 --pixel-size 0.104 --scheduler local:4 --out d.tif
"""

DEMO_EXAMPLES = """examples:
  napari-invprob demo --out-dir demo            (writes clean, blurred and restored TIFFs with sidecars)
  napari-invprob demo --out-dir demo --method fista-tv --n-iter 50 --json
"""


_fill = _word_or_number("auto")


def _deskew_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the acquisition (a raw light-sheet file records none of it)")
    group.add_argument("--angle", type=_finite_float, required=True, metavar="DEG",
                       help="angle between the light sheet and the coverslip, degrees, between 0 and 90 (about 30 "
                            "for a lattice light sheet)")
    group.add_argument("--step", type=_finite_float, required=True, metavar="D",
                       help="how far the stage moves between two planes, in --unit")
    group.add_argument("--pixel-size", type=_finite_float, required=True, metavar="D",
                       help="the camera's pixel size in the specimen, in --unit")
    group.add_argument("--unit", choices=["µm", "um", "nm"], default="µm",
                       help="the unit of --step and --pixel-size (default µm; um is µm)")
    group.add_argument("--direction", type=int, choices=[1, -1], default=1,
                       help="sign of the shear: 1 (default) shifts later planes to higher columns, -1 to lower ones")
    parser.add_argument("--fill", type=_fill, default="auto", metavar="auto|LEVEL",
                        help="value of the new pixels: auto (the camera's offset, estimated; default) or a level")
    parser.add_argument("--frame", choices=["objective", "coverslip"], default="objective",
                        help="objective (default): deskewed, planes along the detection axis; coverslip: rotated "
                             "so that Z is the height above the coverslip (cubic voxels of the pixel size)")


def build_parser() -> argparse.ArgumentParser:
    """The ``napari-invprob`` parser with its seven subcommands."""
    from ..deconvolution.methods import METHODS as DECONVOLUTION_METHODS
    from ..deconvolution.problem import BOUNDARIES as DECONVOLUTION_BOUNDARIES
    from ..priors.denoisers import DENOISERS
    from ..tomography.alignment import METHODS as ALIGN_METHODS
    from ..tomography.reconstruct import METHODS as TOMOGRAPHY_METHODS

    parser = _Parser(
        prog="napari-invprob",
        description="Deconvolution and tomography from the shell: the napari-invprob backend without a "
                    "display. Each subcommand has its own --help with examples.",
        epilog="exit status: 0 success, 1 internal error, 2 bad arguments or input, 130 interrupted.\n"
               "Outputs are written atomically beside a JSON record (<out>.json) of how they were made.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"napari-invprob {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def command(name, help_text, examples, methods=None, title=None):
        epilog = examples if methods is None else f"{_methods_epilog(methods, title)}\n\n{examples}"
        return commands.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    deconvolve = command("deconvolve", "deconvolve a 2D/3D or multi-channel image with a known PSF",
                         DECONVOLVE_EXAMPLES, DECONVOLUTION_METHODS, "deconvolution methods")
    deconvolve.add_argument("input", help="blurred image: TIFF, PNG, MRC or OME-Zarr (.zarr, read lazily)")
    _common(deconvolve, out_help="restored image (.tif, .mrc or .zarr)")
    _psf_flags(deconvolve, required=True)
    _solver_flags(deconvolve, DECONVOLUTION_METHODS, default_method="admm-tv")
    deconvolve.add_argument("--boundary", choices=DECONVOLUTION_BOUNDARIES, default="periodic",
                            help="image boundary of the blur (default periodic; reflect mirrors the edges out, "
                                 "for images whose opposite edges differ)")
    deconvolve.add_argument("--allow-negative", action="store_true",
                            help="do not constrain the result to be non-negative")
    deconvolve.add_argument("--channel-axis", type=_channel_axis, default="auto", metavar="AXIS",
                            help="axis of independent channels; auto (default): the C axis of an ImageJ or OME "
                                 "TIFF, else the last axis of a 2D RGB(A) image; none: every axis is spatial")
    deconvolve.add_argument("--time-axis", type=_channel_axis, default="auto", metavar="AXIS",
                            help="axis of time points, deconvolved one at a time: auto (default): the T axis of "
                                 "an ImageJ or OME TIFF; none; or an axis number")
    deconvolve.add_argument("--background", type=_background, metavar="auto|none|LEVEL",
                            help="the camera's offset under the counts, for richardson-lucy and rl-tv (y ~ "
                                 "Poisson(Hx + b)): auto (estimated from the image's darkest regions, per "
                                 "channel; the default for those methods), none, or a level in the image's units")
    _scale_out_flags(deconvolve, piece="overlapping tiles")
    deconvolve.add_argument("--tile-size", type=_positive_int, nargs="+", metavar="N",
                            help="largest tile core per spatial axis with --scheduler (default 512 in 2D, 128 in 3D)")
    deconvolve.add_argument("--overlap", type=_non_negative_int, metavar="N",
                            help="tile halo in pixels with --scheduler (default: from PSF size and iterations)")

    reconstruct = command("reconstruct", "reconstruct a slice or volume from a sinogram or tilt series",
                          RECONSTRUCT_EXAMPLES, TOMOGRAPHY_METHODS, "reconstruction methods")
    reconstruct.add_argument("input", help="tilt series (n_angles, rows, cols) or sinogram: MRC, TIFF, PNG or OME-Zarr (.zarr, read lazily)")
    _common(reconstruct, out_help="reconstructed volume or slice (.mrc, .tif or .zarr)")
    _angle_flags(reconstruct)
    _solver_flags(reconstruct, TOMOGRAPHY_METHODS, default_method="fbp")
    _preparation_flags(reconstruct)
    reconstruct.add_argument("--thickness", type=_positive_int, metavar="NZ",
                             help="volume thickness in pixels (default: the detector width)")
    _scale_out_flags(reconstruct, piece="chunks of slices")
    reconstruct.add_argument("--chunk-slices", type=_positive_int, metavar="N",
                             help="slices per task with --scheduler (default: 4 chunks per worker, <= 64 MiB)")

    align = command("align", "align the projections of a tilt series (remove stage drift)", ALIGN_EXAMPLES)
    align.add_argument("input", help="tilt series: MRC or TIFF")
    _common(align, out_help="aligned tilt series (.mrc or .tif); its angles go to a .tlt beside it")
    _angle_flags(align)
    align.add_argument("--method", "-m", choices=list(ALIGN_METHODS), default=ALIGN_METHODS[0], metavar="NAME",
                       help=f"{' or '.join(ALIGN_METHODS)} (default {ALIGN_METHODS[0]}: cross-correlation "
                            "refined by projection matching)")
    _preparation_flags(align)
    align.add_argument("--n-iter", type=_positive_int, metavar="N", help="projection-matching rounds (default 5)")
    align.add_argument("--max-shift", type=_finite_float, metavar="PIXELS",
                       help="largest drift between neighbouring projections (default: a quarter of the image)")
    align.add_argument("--no-centre", action="store_true", help="do not move the tilt axis to the image centre")

    simulate = command("simulate", "make a measurement with a known answer: blur an image or project a volume",
                       SIMULATE_EXAMPLES)
    kinds = simulate.add_subparsers(dest="kind", required=True, metavar="KIND", parser_class=_Parser)
    blur = kinds.add_parser("blur", help="blur with a PSF and add Gaussian noise", epilog=SIMULATE_EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    blur.add_argument("input", help="clean image: TIFF, PNG or MRC")
    _common(blur, out_help="blurred, noisy image (.tif or .mrc)")
    _psf_flags(blur, required=True)
    blur.add_argument("--noise", type=_finite_float, default=0.0, metavar="σ",
                      help="standard deviation of the added Gaussian noise, in image units (default 0)")
    blur.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    blur.add_argument("--boundary", choices=["periodic", "zero"], default="periodic")
    blur.add_argument("--channel-axis", type=_channel_axis, default="auto", metavar="AXIS",
                      help="axis of independent channels (default auto: the C axis of an ImageJ or OME TIFF, else "
                           "the last axis of an RGB(A) image)")
    project = kinds.add_parser("project", help="tilt series (or sinogram) of a volume (or image), with noise",
                               epilog=SIMULATE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    project.add_argument("input", help="volume (z, y, x) or image: MRC, TIFF or PNG")
    _common(project, out_help="tilt series or sinogram (.mrc or .tif); its angles go to a .tlt beside it")
    _angle_flags(project)
    project.add_argument("--noise", type=_finite_float, default=0.0, metavar="FRACTION",
                         help="Gaussian noise std as a fraction of the data's maximum (default 0)")
    project.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    project.add_argument("--tilt-axis", choices=["y", "x"], default="y", help="tilt axis (default y)")

    denoisers = "denoisers:\n" + "\n".join(f"  {name:<9} {spec.summary}" for name, spec in DENOISERS.items())
    denoise = command("denoise", "remove Gaussian noise from a 2D/3D or multi-channel image",
                      f"{denoisers}\n\n{DENOISE_EXAMPLES}")
    denoise.add_argument("input", help="noisy image or volume: TIFF, PNG, MRC or OME-Zarr (.zarr, read lazily)")
    _common(denoise, out_help="denoised image (.tif, .mrc or .zarr)")
    denoise.add_argument("--method", "-m", choices=list(DENOISERS), default="learned", metavar="NAME",
                         help="denoiser (default learned; the list is below)")
    denoise.add_argument("--sigma", type=_finite_float, metavar="σ",
                         help="noise standard deviation in the image's units (default: estimated from the image)")
    denoise.add_argument("--channel-axis", type=_channel_axis, default="auto", metavar="AXIS",
                         help="axis of independent channels; auto (default): the C axis of an ImageJ or OME TIFF, "
                              "else the last axis of a 2D RGB(A) image; none: every axis is spatial")
    denoise.add_argument("--reference", metavar="FILE",
                         help="ground truth: report PSNR and SSIM of the result against it")
    _scale_out_flags(denoise, piece="overlapping tiles")
    denoise.add_argument("--tile-size", type=_positive_int, nargs="+", metavar="N",
                         help="tile core per spatial axis with --scheduler (default 512 in 2D, 128 in 3D)")
    denoise.add_argument("--overlap", type=_non_negative_int, metavar="N",
                         help="tile halo in pixels with --scheduler (default 16)")

    deskew = command("deskew", "deskew a stage-scanned light-sheet stack (or rotate it onto the coverslip)",
                     DESKEW_EXAMPLES)
    deskew.add_argument("input", help="raw stack (planes, rows, columns): TIFF or MRC")
    _output_flags(deskew, out_help="deskewed stack (.tif or .mrc), with its voxel size")
    _deskew_flags(deskew)
    _scale_out_flags(deskew, piece="chunks of planes")
    deskew.add_argument("--chunk-planes", type=_positive_int, metavar="N",
                        help="planes per task with --scheduler (default: about 64 MiB of output)")

    demo = command("demo", "the lecture's deconvolution: blur the astronaut, restore it, report PSNR",
                   DEMO_EXAMPLES)
    demo.add_argument("--out-dir", required=True, metavar="DIR", help="directory for the outputs (created)")
    demo.add_argument("--method", "-m", choices=list(DECONVOLUTION_METHODS), default="admm-tv", metavar="NAME",
                      help="deconvolution method (default admm-tv)")
    demo.add_argument("--lam", type=_lam, metavar="λ", help="regularisation weight (default: the method's)")
    demo.add_argument("--n-iter", type=_positive_int, metavar="N", help="iterations (default: the method's)")
    demo.add_argument("--overwrite", action="store_true", help="replace earlier demo outputs")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no table")
    demo.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    demo.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    demo.add_argument("--device", help="torch device (default: the best available)")
    return parser
