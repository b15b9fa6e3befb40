"""Voxel sizes as layers record them, and as a user types them: micrometres, napari's axis order.

A layer's sizes come from its ``scale`` and ``units`` (our TIFF and MRC readers set both): an axis whose
unit is a length has a size, an axis in pixels has none (an OME-TIFF without ``PhysicalSizeZ``). A size
outside :data:`PLAUSIBLE_UM` (0, NaN, a z step of a millimetre) is no size either: it is reported, not
used, so that no control is given a value it cannot hold and nothing is guessed.
"""

from __future__ import annotations

import math

from magicgui.widgets import LineEdit

#: Ångström per micrometre (layer scales from MRC files are in ångström).
ANGSTROM_PER_UM = 1e4
#: Voxel sizes a microscope records, in micrometres (exclusive below, inclusive above).
PLAUSIBLE_UM = (1e-4, 100.0)


def layer_voxel_size_um(layer) -> tuple[float | None, ...]:
    """The spatial voxel size of an image layer in micrometres, ``(y, x)`` or ``(z, y, x)``, one entry
    per spatial axis: None where the layer does not record it (a unit that is no length) or records an
    implausible one (outside :data:`PLAUSIBLE_UM`). A layer without any length unit but with an MRC
    ``pixel_size`` in its metadata has its ``scale`` in ångström."""
    spatial = layer.data.ndim - (1 if layer.rgb else 0)
    scale, units = tuple(layer.scale)[-spatial:], tuple(layer.units)[-spatial:]
    lengths = [unit.dimensionality == {"[length]": 1} for unit in units]
    if any(lengths):
        sizes = [float((size * unit).to("micrometer").magnitude) if is_length else None
                 for size, unit, is_length in zip(scale, units, lengths)]
    elif layer.metadata.get("pixel_size"):
        sizes = [float(size) / ANGSTROM_PER_UM for size in scale]
    else:
        sizes = [None] * spatial
    return tuple(size if plausible(size) else None for size in sizes)


def plausible(size) -> bool:
    """Whether ``size`` (µm) is a voxel size a microscope records."""
    return size is not None and math.isfinite(size) and PLAUSIBLE_UM[0] < size <= PLAUSIBLE_UM[1]


def describe_sizes(sizes) -> str:
    """``0.3 x 0.104 x 0.104 µm``, with ``?`` for an unknown entry."""
    return " x ".join("?" if s is None else f"{s:g}" for s in sizes) + " µm"


class VoxelSizeField(LineEdit):
    """A voxel size in µm, z first (``0.3, 0.104, 0.104``), shown as the layer records it and typed where it
    does not; empty: unknown."""

    def __init__(self, label: str, tooltip: str):
        super().__init__(value="", label=label, tooltip=tooltip)
        self.native.setPlaceholderText("not recorded: type z, y, x in µm")

    def show_layer(self, layer) -> None:
        """Show the layer's sizes where it records all of them; else clear the field (never keep the
        previous layer's)."""
        sizes = None if layer is None else layer_voxel_size_um(layer)
        self.value = "" if sizes is None or None in sizes else ", ".join(f"{s:g}" for s in sizes)

    def sizes(self, ndim: int) -> tuple[float, ...] | None:
        """The typed sizes (None when empty); ``ValueError`` unless they are ``ndim`` plausible numbers."""
        text = str(self.value).strip()
        if not text:
            return None
        try:
            sizes = tuple(float(part) for part in text.replace(";", ",").split(","))
        except ValueError:
            raise ValueError(f"{self.label}: {text!r} is not {ndim} numbers in µm separated by commas") from None
        if len(sizes) != ndim:
            raise ValueError(f"{self.label}: {text!r} has {len(sizes)} sizes for {ndim} axes "
                             f"({'z, y, x' if ndim == 3 else 'y, x'})")
        if not all(plausible(s) for s in sizes):
            raise ValueError(f"{self.label}: {text!r} must be sizes in µm between {PLAUSIBLE_UM[0]:g} and "
                             f"{PLAUSIBLE_UM[1]:g}")
        return sizes
