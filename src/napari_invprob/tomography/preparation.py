"""Making measured projections into line integrals: storage offset, contrast and background.

Reconstruction assumes that every projection is a line integral of the specimen: zero where the beam
missed it. A microscope's file rarely says so:

- **storage**: unsigned counts written into a signed 16-bit type (the counts minus 32768) make every
  value negative; :func:`storage_offset` detects it and the offset is added back;
- **contrast**: in dark-field (STEM HAADF) the signal grows with the projected mass, so the counts are
  line integrals up to a constant; in bright-field (TEM) the beam is attenuated, ``I = I0·exp(−∫μ)``,
  so the line integral is ``−log(I / I0)`` with ``I0`` the beam through vacuum. ``"auto"`` calls data
  bright-field when every value is positive and the histogram's peak (the empty area, for a compact
  specimen) lies in the bright half;
- **background**: a detector offset or a support film adds a constant to every projection.
  ``"auto"`` estimates each projection's level from the projection binned 4×4 (binning lowers the
  noise): the peak of the histogram of its darker half (the empty area; unbiased by the noise, where
  a low percentile would sit below the level), or its 5th percentile when it has too few pixels for a
  histogram. The level is removed when it is significant: larger than three times the noise of the
  binned projection (estimated from neighbour differences). Data that vanish outside the specimen already are left as they are.

:func:`resolve_preparation` decides, :meth:`Preparation.apply` does it and :func:`prepare` both.
:func:`napari_invprob.align` and :func:`napari_invprob.reconstruct` prepare their input this way by
default, so the path a user takes gives line integrals whatever the file's conventions; the
:class:`Preparation` says what was done (:meth:`~Preparation.describe`, :meth:`~Preparation.record`),
and a :class:`PreparationWarning` says when the data still look wrong.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

CONTRASTS = ("auto", "dark-field", "bright-field")
#: Offset undone for unsigned counts stored in int16 (the counts minus 32768).
INT16_UNSIGNED_OFFSET = 32768.0
_BIN = 4  # binning of the projections for the statistics
_BACKGROUND_PERCENTILE = 5.0
_MODE_MIN_VALUES = 256  # fewer binned values than this: a percentile, not a histogram peak
_SIGNIFICANCE = 3.0  # a background level is removed when larger than this many noise standard deviations
_BRIGHT_PEAK_POSITION = 0.6  # histogram peak at least this far up the value range: bright-field

logger = logging.getLogger(__name__)


class PreparationWarning(UserWarning):
    """The projections still do not look like line integrals after the preparation chosen."""


@dataclass(frozen=True)
class Preparation:
    """What is done to projections before alignment and reconstruction, in this order.

    Attributes
    ----------
    contrast : str
        ``"dark-field"`` (values are line integrals up to a constant) or ``"bright-field"``
        (``−log(I / I0)`` is taken).
    contrast_source : str
        ``"given"`` or ``"detected"``.
    offset : float
        Added to the stored values first: :data:`INT16_UNSIGNED_OFFSET` for unsigned counts stored in
        int16, else 0.
    i0 : numpy.ndarray or None
        Bright-field: the beam intensity of every projection (its brightest plateau); else None.
    background : numpy.ndarray or None
        The constant level subtracted from every projection (after the contrast step), or None.
    background_source : str
        ``"estimated"``, ``"given"``, ``"off"`` (``background="none"``) or ``"none found"`` (``"auto"``
        found no significant level).
    """

    contrast: str
    contrast_source: str
    offset: float
    i0: np.ndarray | None
    background: np.ndarray | None
    background_source: str

    @property
    def changes_nothing(self) -> bool:
        """No offset, no contrast step and no background: the values are line integrals as they are."""
        return not self.offset and self.i0 is None and self.background is None

    def apply(self, data, *, copy: bool = True) -> np.ndarray:
        """The prepared projections: a new float32 array of the shape of ``data``.

        Parameters
        ----------
        data : array-like
            A tilt series ``(n_angles, rows, cols)`` or a sinogram ``(n_angles, n_detector)`` with as
            many projections as this preparation was resolved for.
        copy : bool
            False: when this preparation :attr:`changes_nothing` and ``data`` is a writeable, C-contiguous
            float32 array already, return ``data`` itself (for a caller that only reads it: one copy less of a
            whole series).

        Returns
        -------
        numpy.ndarray
        """
        if not copy and self.changes_nothing and isinstance(data, np.ndarray) and data.dtype == np.float32 \
                and data.flags.writeable and data.flags.c_contiguous:
            if not np.all(np.isfinite(data)):
                raise ValueError("the prepared projections contain NaN or Inf values")
            return data
        stack = _as_stack(data)
        n = stack.shape[0]
        for name, levels in (("i0", self.i0), ("background", self.background)):
            if levels is not None and levels.shape != (n,):
                raise ValueError(f"this preparation's {name} has {levels.size} levels, the data {n} projections")
        prepared = np.empty(stack.shape, dtype=np.float32)
        for k, projection in enumerate(stack):  # one projection at a time: large integer stacks stay small
            out = prepared[k]
            out[...] = projection
            if self.offset:
                out += np.float32(self.offset)
            if self.i0 is not None:
                _absorption(out, float(self.i0[k]), k)
            if self.background is not None:
                out -= np.float32(self.background[k])
        if not np.all(np.isfinite(prepared)):
            raise ValueError("the prepared projections contain NaN or Inf values")
        return prepared.reshape(np.shape(data))

    def describe(self) -> str:
        """One line saying what was done, for a command line or a notification."""
        parts = []
        if self.offset:
            parts.append(f"{self.offset:g} added (unsigned counts stored as int16)")
        if self.contrast == "bright-field":
            parts.append(f"bright-field ({self.contrast_source}): −log(I/I0), I0 {_span(self.i0)}")
        else:
            parts.append(f"dark-field ({self.contrast_source})")
        if self.background is None:
            parts.append("background left as is" if self.background_source == "off" else "no background found")
        else:
            parts.append(f"background {_span(self.background)} removed per projection ({self.background_source})")
        return "; ".join(parts)

    def record(self) -> dict:
        """A JSON-able record (for a result layer's metadata or the command line's sidecar)."""
        return {
            "contrast": self.contrast,
            "contrast_source": self.contrast_source,
            "offset": self.offset,
            "i0": None if self.i0 is None else [float(v) for v in self.i0],
            "background": None if self.background is None else [float(v) for v in self.background],
            "background_source": self.background_source,
            "summary": self.describe(),
        }


def storage_offset(data) -> float:
    """The offset of unsigned counts stored in a signed 16-bit type, or 0.

    Some acquisition software writes unsigned detector counts into int16 by subtracting 32768, so the
    background of every projection sits near −32768 and only the specimen rises above it (bright-field
    counts up to 32767 still store negative). Data are taken to be stored so when they are int16, (almost)
    all negative (the 99.9th percentile below 0) and reaching below −16384: signed physical quantities
    stored in int16 take both signs.

    Parameters
    ----------
    data : array-like

    Returns
    -------
    float
        :data:`INT16_UNSIGNED_OFFSET` or 0.0.
    """
    array = data if _is_lazy(data) else np.asarray(data)
    if array.dtype != np.int16 or array.size == 0:
        return 0.0
    sample = array.reshape(array.shape[0], -1)[:, ::7] if array.ndim > 1 else array
    low, high = np.percentile(np.asarray(sample), [0.0, 99.9])
    return INT16_UNSIGNED_OFFSET if high < 0 and low < -16384 else 0.0


def resolve_preparation(data, *, contrast: str = "auto", background="auto") -> Preparation:
    """Decide how to make ``data`` into line integrals (see the module notes), without changing it.

    Parameters
    ----------
    data : array-like
        A tilt series ``(n_angles, rows, cols)`` or a sinogram ``(n_angles, n_detector)``, any real type.
    contrast : {"auto", "dark-field", "bright-field"}
        ``"auto"`` detects it.
    background : "auto", "none", float or array-like
        ``"auto"`` estimates each projection's constant level and removes it when significant;
        ``"none"`` leaves the data as they are; a number, or one number per projection, is subtracted
        (after the contrast step).

    Returns
    -------
    Preparation

    Raises
    ------
    ValueError
        Unknown contrast or background; a background of the wrong length or not finite; bright-field
        data without positive values.
    TypeError
        Data that are not real numbers.

    Warns
    -----
    PreparationWarning
        When the prepared data still look wrong: a large background left in place, a contrast that
        contradicts the data, or large negative values after the background step.
    """
    stack = _as_stack(data)
    if contrast not in CONTRASTS:
        raise ValueError(f"contrast must be one of {', '.join(CONTRASTS)}, got {contrast!r}")
    levels_given = _given_background(background, stack.shape[0])
    offset = storage_offset(stack)
    binned = _binned(stack) + np.float32(offset)
    bright_looking = _looks_bright_field(stack, binned, offset)
    if contrast == "auto":
        contrast, contrast_source = ("bright-field" if bright_looking else "dark-field"), "detected"
    else:
        contrast_source = "given"
        if contrast == "dark-field" and bright_looking:
            _warn("the projections look bright-field (a bright background, a dark specimen) but contrast="
                  "'dark-field' was given: pass contrast='bright-field' (or 'auto'; --contrast on the command line) "
                  "to take −log(I/I0)")
        elif contrast == "bright-field":
            _check_intensities(binned)
            if not bright_looking:
                _warn("the projections look dark-field (a dark background, a bright specimen) but contrast="
                      "'bright-field' was given: −log(I/I0) of dark-field data is no line integral; pass contrast="
                      "'dark-field' (or 'auto'; --contrast on the command line)")
    i0 = None
    if contrast == "bright-field":
        i0 = _beam_intensity(binned)
        binned = -np.log(np.maximum(binned, np.finfo(np.float32).tiny) / i0[:, None, None])
    levels = binned.reshape(binned.shape[0], -1)
    noise = _noise(binned)
    estimated = _levels(binned)
    significant = abs(float(np.median(estimated))) > _SIGNIFICANCE * noise
    if isinstance(background, str) and background == "auto":
        levels_used, source = (estimated, "estimated") if significant else (None, "none found")
    elif levels_given is None:
        levels_used, source = None, "off"
        signal = float(np.percentile(levels, 99.5)) - float(np.median(estimated))
        if significant and abs(float(np.median(estimated))) > 0.05 * max(signal, 0.0):
            _warn(f"the projections do not vanish outside the specimen: their background, about "
                  f"{np.median(estimated):.4g}, is {_share(np.median(estimated), signal)} of the signal. "
                  "Reconstructions take it as specimen; pass background='auto' (--background auto on the command "
                  "line) to remove it")
    else:
        levels_used, source = levels_given, "given"
        _check_below_signal(levels_given, levels.max(axis=1))
    preparation = Preparation(contrast, contrast_source, offset, i0, levels_used, source)
    residual = levels - (0.0 if levels_used is None else levels_used[:, None])
    low, high = np.percentile(residual, [1.0, 99.5])
    if high <= 0 or low < -0.2 * high:
        _warn(f"after the preparation ({preparation.describe()}) the projections have large negative values "
              f"({low:.4g} against a signal of {high:.4g}): check the contrast (dark-field or bright-field) and "
              "the background")
    logger.info("projections prepared: %s", preparation.describe())
    return preparation


def prepare(data, *, contrast: str = "auto", background="auto", copy: bool = True) -> tuple[np.ndarray, Preparation]:
    """Resolve the preparation of ``data`` and apply it.

    Parameters
    ----------
    data, contrast, background
        As for :func:`resolve_preparation`.
    copy : bool
        As for :meth:`Preparation.apply` (False: ``data`` itself when there is nothing to do).

    Returns
    -------
    prepared : numpy.ndarray
        New float32 line integrals of the shape of ``data`` (``data`` is not modified).
    preparation : Preparation
        What was done.
    """
    preparation = resolve_preparation(data, contrast=contrast, background=background)
    return preparation.apply(data, copy=copy), preparation


# -- helpers ---------------------------------------------------------------------------------------------


def _as_stack(data) -> np.ndarray:
    """``data`` as projections ``(n, rows, cols)`` (a sinogram's rows become ``(n, 1, n_detector)``), no copy;
    a dask array stays lazy (its values checked in one pass, chunk by chunk)."""
    lazy = _is_lazy(data)
    array = data if lazy else np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"projections must be real numbers, got dtype {array.dtype}")
    if array.ndim not in (2, 3) or min(array.shape) == 0:
        raise ValueError(
            f"projections must be a sinogram (n_angles, n_detector) or a tilt series (n_angles, rows, cols), "
            f"got shape {array.shape}"
        )
    if array.dtype.kind == "f" and not (bool(_lazy_all_finite(array)) if lazy else all(np.isfinite(p).all() for p in array)):
        raise ValueError("the projections contain NaN or Inf values; remove or replace them first")
    return array[:, None, :] if array.ndim == 2 else array


def _is_lazy(data) -> bool:
    """Whether ``data`` is a dask array (a tilt series bigger than memory, e.g. from zarr)."""
    return type(data).__module__.startswith("dask.")


def _lazy_all_finite(array) -> bool:
    import dask.array as da

    return bool(da.isfinite(array).all().compute())


def _given_background(background, n: int) -> np.ndarray | None:
    if isinstance(background, str):
        if background not in ("auto", "none"):
            raise ValueError(f"background must be 'auto', 'none', a number or one number per projection, "
                             f"got {background!r}")
        return None
    if background is None:
        raise ValueError("background must be 'auto', 'none', a number or one number per projection, got None")
    if isinstance(background, bool):
        raise TypeError("background must be 'auto', 'none', a number or one number per projection, got a bool")
    levels = np.asarray(background, dtype=np.float64)
    if levels.ndim == 0:
        levels = np.full(n, float(levels))
    if levels.shape != (n,):
        raise ValueError(f"background has {levels.size} levels for {n} projections: give one, or one per projection")
    if not np.all(np.isfinite(levels)):
        raise ValueError("background levels must be finite")
    return levels


def _check_intensities(binned: np.ndarray) -> None:
    """Refuse bright-field projections that are not intensities: more than 1 % of them (binned) at or
    below 0, where −log(I/I0) has no value (dark-field data with an offset removed, line integrals)."""
    share = float(np.mean(binned <= 0))
    if share > 0.01:
        raise ValueError(f"contrast='bright-field' takes transmitted intensities I > 0, but {share:.0%} of the "
                         f"projections are at or below 0 (down to {float(binned.min()):.4g}): these look like dark-field "
                         "data or line integrals already; pass contrast='dark-field' or 'auto' (--contrast on the "
                         "command line)")


def _check_below_signal(levels: np.ndarray, peaks: np.ndarray) -> None:
    """Refuse given background levels at or above their projections' (binned) maximum: nothing would be
    left to reconstruct (an all-zero volume)."""
    above = np.flatnonzero((levels >= peaks) & (levels != 0))
    if above.size:
        raise ValueError(f"the background {_span(levels[above])} is at or above the maximum of {above.size} of the "
                         f"{levels.size} projections (e.g. {float(peaks[above[0]]):.4g} in projection {int(above[0])}): "
                         "nothing would be left to reconstruct; give the level of the empty area (below the signal), "
                         "or 'auto' to estimate it")


def _binned(stack: np.ndarray) -> np.ndarray:
    """float32 projections averaged over ``_BIN × _BIN`` blocks (along the detector only for a sinogram)."""
    n, rows, cols = stack.shape
    fy = _BIN if rows >= 4 * _BIN else 1
    fx = _BIN if cols >= 4 * _BIN else 1
    h, w = rows // fy, cols // fx
    if _is_lazy(stack):  # one pass over the chunks, the same means
        import dask.array as da

        return np.asarray(da.coarsen(_mean64, stack[:, : h * fy, : w * fx], {1: fy, 2: fx}).astype(np.float32))
    binned = np.empty((n, h, w), dtype=np.float32)
    for projection, out in zip(stack, binned):
        out[...] = projection[: h * fy, : w * fx].reshape(h, fy, w, fx).mean(axis=(1, 3), dtype=np.float64)
    return binned


def _mean64(block: np.ndarray, axis=None) -> np.ndarray:
    return block.mean(axis=axis, dtype=np.float64)


def estimate_background(data) -> np.ndarray:
    """Each projection's constant background level, as ``background="auto"`` estimates it.

    Parameters
    ----------
    data : array-like
        A tilt series ``(n_angles, rows, cols)`` or a sinogram ``(n_angles, n_detector)``.

    Returns
    -------
    numpy.ndarray
        One level per projection (float64), whether or not it is significant.
    """
    return _levels(_binned(_as_stack(data)))


def _levels(binned: np.ndarray) -> np.ndarray:
    return np.array([_background_level(values) for values in binned.reshape(binned.shape[0], -1)])


def _background_level(values: np.ndarray) -> float:
    """The constant level of the empty part of one binned projection (see the module notes)."""
    if values.size < _MODE_MIN_VALUES:
        return float(np.percentile(values, _BACKGROUND_PERCENTILE))
    low, middle = np.percentile(values, [0.5, 50.0])
    if middle <= low:
        return float(middle)
    bins = int(np.clip(values.size // 32, 8, 64))  # about 16 values a bin in the darker half
    counts, edges = np.histogram(values, bins=bins, range=(low, middle))
    peak = int(np.argmax(counts))
    return float(0.5 * (edges[peak] + edges[peak + 1]))


def _noise(binned: np.ndarray) -> float:
    """Noise standard deviation of the binned projections, from differences of neighbours along their
    longer image axis (median absolute deviation, robust to edges); 0 for single pixels."""
    axis = -1 if binned.shape[-1] >= binned.shape[-2] else -2
    if binned.shape[axis] < 2:
        return 0.0
    differences = np.diff(binned, axis=axis)
    return float(np.median(np.abs(differences))) / 0.6745 / np.sqrt(2.0)


def _looks_bright_field(stack: np.ndarray, binned: np.ndarray, offset: float) -> bool:
    """Every value positive and the histogram's peak (the empty area) in the upper part of the range."""
    if float(stack.min()) + offset <= 0:
        return False
    positions = []
    for projection in binned.reshape(binned.shape[0], -1):
        low, high = np.percentile(projection, [0.5, 99.5])
        if high <= low:
            continue
        counts, edges = np.histogram(projection, bins=64, range=(low, high))
        peak = int(np.argmax(counts))
        positions.append((0.5 * (edges[peak] + edges[peak + 1]) - low) / (high - low))
    return bool(positions) and float(np.median(positions)) >= _BRIGHT_PEAK_POSITION


def _beam_intensity(binned: np.ndarray) -> np.ndarray:
    """I0 of every projection: the centre of the histogram's peak in the bright half (the vacuum)."""
    i0 = np.empty(binned.shape[0])
    for k, projection in enumerate(binned.reshape(binned.shape[0], -1)):
        low, high = np.percentile(projection, [0.5, 99.5])
        bright = projection[projection >= 0.5 * (low + high)]
        counts, edges = np.histogram(bright, bins=64)
        peak = int(np.argmax(counts))
        i0[k] = 0.5 * (edges[peak] + edges[peak + 1])
    if not np.all(i0 > 0):
        raise ValueError("bright-field data need a positive beam intensity I0; are these bright-field projections?")
    return i0


def _absorption(projection: np.ndarray, i0: float, k: int) -> None:
    """``−log(I / I0)`` in place; non-positive intensities are clipped to the smallest positive one."""
    positive = projection[projection > 0]
    if positive.size == 0:
        raise ValueError(f"projection {k} has no positive intensity; bright-field needs counts above zero")
    np.maximum(projection, positive.min(), out=projection)
    projection /= np.float32(i0)
    np.log(projection, out=projection)
    np.negative(projection, out=projection)


def _span(levels: np.ndarray) -> str:
    low, high = float(np.min(levels)), float(np.max(levels))
    return f"{low:.4g}" if np.isclose(low, high, rtol=1e-3, atol=0) else f"{low:.4g} to {high:.4g}"


def _share(level: float, signal: float) -> str:
    return f"{abs(level) / signal:.0%}" if signal > 0 else "many times"


def _warn(message: str) -> None:
    warnings.warn(message, PreparationWarning, stacklevel=3)
