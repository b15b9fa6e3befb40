"""What an image's named axes say: where its channels are, how large its pixels are."""

from __future__ import annotations


class NamedAxes:
    """``pixel_size`` and ``channel_axis`` of an image read from a file, for a class with ``axes`` (one
    letter per axis: ``Z``, ``Y``, ``X`` space, ``C`` channels, ``T`` time) and ``voxel_size`` (per axis,
    the size of a step in ångström, or None)."""

    axes: str
    voxel_size: tuple[float | None, ...]

    @property
    def pixel_size(self) -> float | None:
        """The size of an ``X`` step in ångström (None if unknown)."""
        return self.voxel_size[self.axes.index("X")] if "X" in self.axes else None

    @property
    def channel_axis(self) -> int | None:
        """The index of the ``C`` axis, or None."""
        return self.axes.index("C") if "C" in self.axes else None
