"""TIFF files made like broken real ones (issue 27): OME-XML that disagrees with the planes or lacks
entries, absurd sizes and units, a stack cut short, a thousand channels. Written with tifffile, no
reader of ours involved."""

from __future__ import annotations

import numpy as np
import tifffile


def ome_tiff(path, *, planes=8, size_z: int | None = 8, order="XYZCT", pixels_extra="", shape=(8, 8)):
    """An OME-TIFF of ``planes`` float32 planes whose OME-XML says ``SizeZ=size_z`` (None: no SizeZ),
    ``DimensionOrder=order`` and holds ``pixels_extra`` (e.g. ``PhysicalSizeX="0.1"``) in ``Pixels``."""
    z = "" if size_z is None else f' SizeZ="{size_z}"'
    xml = ('<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
           f'<Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="{order}" Type="float"{z} SizeC="1" '
           f'SizeT="1" SizeY="{shape[0]}" SizeX="{shape[1]}" {pixels_extra}>'
           '<Channel ID="Channel:0:0" SamplesPerPixel="1"/><TiffData/></Pixels></Image></OME>')
    data = np.random.default_rng(0).random((planes, *shape)).astype(np.float32)
    with tifffile.TiffWriter(path) as writer:
        for index, plane in enumerate(data):
            writer.write(plane, description=xml if index == 0 else None, metadata=None, contiguous=False)
    return path


def imagej_stack(path, data, *, resolution=(10.0, 10.0), spacing=0.3, unit="um", axes="ZYX"):
    """An ImageJ hyperstack with ``resolution`` (pixels per unit), z ``spacing`` and ``unit``."""
    tifffile.imwrite(path, np.asarray(data, dtype=np.float32), imagej=True, resolution=resolution,
                     metadata={"spacing": spacing, "unit": unit, "axes": axes})
    return path


def cut_in_half(source, target):
    """``target``: the first half of the bytes of ``source`` (a transfer that stopped)."""
    raw = open(source, "rb").read()
    with open(target, "wb") as stream:
        stream.write(raw[: len(raw) // 2])
    return target
