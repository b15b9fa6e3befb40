"""When does the slice in view reach its answer? The Tomography widget's default *Run* of a tilt series
(SIRT 50, all chunks streamed in lockstep), with and without the slab of the slice in view solved ahead
(``chunks.stream(plan, first=...)``).

The series: 77 projections of 256x256 over ±76° (the size of ``benchmarks/real_tilt_series.py``'s
file), tilt axis y, the exact projections of 60 random blobs. The columns: seconds to the first iterate,
seconds until the slice in view (the middle one) holds its final value, seconds to the last iterate,
and whether the last iterate is the same volume to the last bit.

Run: ``.venv/bin/python benchmarks/slice_in_view.py`` (2 threads, as on the CI machines; about a minute).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

N, N_ANGLES, N_ITER = 256, 77, 50


def timings(plan, workers: int, first: int | None, in_view: int) -> tuple[float, float, float, np.ndarray]:
    """Seconds to the first iterate, to the slice in view at its final value, to the end; the last volume."""
    from napari_invprob.tomography import chunks

    start = time.perf_counter()
    seen = []  # (seconds, the slice in view)
    for iterate in chunks.stream(plan, workers=workers, first=first):
        seen.append((time.perf_counter() - start, iterate.x[:, in_view].clone()))
    final = iterate.x.numpy()
    settled = next(t for t, view in seen if torch.equal(view, seen[-1][1]))
    return seen[0][0], settled, seen[-1][0], final


def main() -> None:
    from _tilt_phantom import blob_tilt_series, random_blobs

    from napari_invprob.tomography import chunks

    torch.set_num_threads(2)
    angles = np.linspace(-76.0, 76.0, N_ANGLES)
    series = blob_tilt_series(random_blobs(N, 60, seed=1), N, angles)
    plan = chunks.make_plan(series, angles, method="sirt", n_iter=N_ITER, tilt_axis="y", device="cpu",
                            background="none", contrast="dark-field")
    in_view = N // 2
    print(f"SIRT {N_ITER}, {N_ANGLES} projections of {N}x{N}, 2 workers, slice in view {in_view} of {N}")
    print(f"{'run':<34}{'first iterate':>15}{'slice in view done':>20}{'last iterate':>14}{'same volume':>13}")
    reference = None
    for name, first in (("lockstep (before)", None), ("slab in view ahead (this change)", in_view)):
        t_first, t_view, t_end, volume = timings(plan, 2, first, in_view)
        same = "-" if reference is None else str(np.array_equal(volume, reference))
        reference = volume if reference is None else reference
        print(f"{name:<34}{t_first:>14.1f}s{t_view:>19.1f}s{t_end:>13.1f}s{same:>13}", flush=True)


if __name__ == "__main__":
    main()
