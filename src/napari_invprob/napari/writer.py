"""napari writer: an image layer as an MRC file with its voxel size."""

from __future__ import annotations

from ..files import write_volume


def write_mrc(path: str, data, meta: dict) -> list[str]:
    """Write one image layer to ``path`` (MRC), the layer's ``scale`` as the voxel size in ångström.

    napari's save dialog has already confirmed replacing an existing file, so one is replaced, but the
    file the layer was read from (``metadata["source_path"]``) never is. The write is atomic.

    Returns
    -------
    list of str
        The written path.
    """
    scale = meta.get("scale")
    voxel_size = None if scale is None else tuple(float(s) for s in scale)[-3:]
    if voxel_size is not None and len(voxel_size) == 2:
        voxel_size = (voxel_size[0], *voxel_size)
    source = (meta.get("metadata") or {}).get("source_path")
    written = write_volume(path, data, voxel_size, overwrite=True, source=source)
    return [str(written)]
