"""Reconstruction quality and speed of our tomography methods beside their usual peers, one table.

The two Shepp-Logan cases of :func:`napari_invprob.datasets.shepp_logan_case` (exact bin-averaged line
integrals + 1 % noise, 256x256): a wedge of 50 angles over -70..70 degrees and 180 angles over
[0, 180). Our methods run with their defaults (``reconstruct(..., method=m)``; the plug-and-play ones
with the TV denoiser and with the learned one); the peers are
scikit-image's ``iradon`` (ramp, hann) and ``iradon_sart`` (2 sweeps, the second warm-started) and, when
``astra-toolbox`` is importable (optional, not a dependency), ASTRA's CPU FBP, SIRT (300 iterations)
(x ≥ 0) and CGLS (30) with its strip projector, the geometry matched to ours (rotation centre at pixel
``n // 2``). PSNR inside the reconstruction circle (data range = phantom max - min), SSIM on the whole
image. Seconds are the best of a few rounds taken in turns (so a busy machine slows all alike) for
runs under a second, else one run; our projector's system matrix is built once per geometry and
cached, and its build time is reported on its own line.

Run: ``.venv/bin/python benchmarks/tomography.py`` (on a machine shared with other jobs, prefix
``OMP_NUM_THREADS=1``: OpenMP threads that wait for busy cores slow every multi-threaded contender
many times over).
"""

from __future__ import annotations

import time

import numpy as np
from skimage.transform import iradon, iradon_sart

from napari_invprob import reconstruct
from napari_invprob.datasets import shepp_logan_case
from napari_invprob.metrics import psnr, ssim
from napari_invprob.operators.projector import ParallelBeamProjector
from napari_invprob.tomography.reconstruct import projector_norm

#: Our methods with their defaults; after a colon, FBP's filter or a plug-and-play method's denoiser.
OURS = ["fbp", "fbp:hann", "sirt", "cgls", "fista-tv", "tv", "pnp-fista", "pnp-admm", "pnp-fista:learned",
        "pnp-admm:learned", "adam"]
QUICK = 1.0  # seconds: runs faster than this are timed as the best of ROUNDS
ROUNDS = 3


def ours(name: str):
    method, _, variant = name.partition(":")
    options = {}
    if variant:
        options = {"denoiser": variant} if method.startswith("pnp-") else {"filter": variant}
    return lambda sinogram, angles: reconstruct(sinogram, angles, method=method, device="cpu", **options)


def skimage_peers() -> dict:
    def sart(sinogram, angles):
        first = iradon_sart(sinogram.T.astype(np.float64), angles)
        return iradon_sart(sinogram.T.astype(np.float64), angles, image=first)

    return {
        "skimage iradon ramp": lambda s, a: iradon(s.T.astype(np.float64), a, filter_name="ramp"),
        "skimage iradon hann": lambda s, a: iradon(s.T.astype(np.float64), a, filter_name="hann"),
        "skimage iradon_sart x2": sart,
    }


def astra_peers() -> dict:
    """ASTRA's CPU FBP/SIRT/CGLS in our geometry, or nothing when astra-toolbox is not installed."""
    try:
        import astra
    except ImportError:
        return {}

    def run(algorithm: str, n_iter: int):
        def solve(sinogram, angles):
            n_angles, n = sinogram.shape
            h = n // 2
            # pixel n//2 at the origin, y pointing up (ASTRA's rows run downwards from max y)
            vol = astra.create_vol_geom(n, n, -h - 0.5, n - h - 0.5, -(n - h - 0.5), h + 0.5)
            # an odd detector (one empty bin appended) centres bin n//2 on the rotation axis, as ours
            proj = astra.create_proj_geom("parallel", 1.0, n + 1, np.deg2rad(angles))
            padded = np.concatenate([sinogram, np.zeros((n_angles, 1), np.float32)], axis=1)
            projector = astra.create_projector("strip", proj, vol)
            sino_id = astra.data2d.create("-sino", proj, padded)
            rec_id = astra.data2d.create("-vol", vol)
            cfg = astra.astra_dict(algorithm)
            cfg.update(ReconstructionDataId=rec_id, ProjectionDataId=sino_id, ProjectorId=projector)
            if algorithm == "SIRT":
                cfg["option"] = {"MinConstraint": 0.0}  # x ≥ 0, as our SIRT
            alg = astra.algorithm.create(cfg)
            astra.algorithm.run(alg, n_iter)
            image = astra.data2d.get(rec_id)
            astra.algorithm.delete(alg)
            astra.data2d.delete([sino_id, rec_id])
            astra.projector.delete(projector)
            return image

        return solve

    return {"ASTRA FBP (strip)": run("FBP", 1), "ASTRA SIRT-300 (strip)": run("SIRT", 300),
            "ASTRA CGLS-30 (strip)": run("CGLS", 30)}


def timed(fn, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    image = fn(*args)
    best = time.perf_counter() - start
    if best < QUICK:
        for _ in range(ROUNDS - 1):
            start = time.perf_counter()
            fn(*args)
            best = min(best, time.perf_counter() - start)
    return np.asarray(image, dtype=np.float64), best


def main() -> None:
    contenders = {f"ours {name}": ours(name) for name in OURS}
    contenders.update(skimage_peers())
    contenders.update(astra_peers())
    rows = []
    for kind in ("wedge", "full"):
        case = shepp_logan_case(kind)
        start = time.perf_counter()
        projector_norm(ParallelBeamProjector(case.phantom.shape, case.angles, device="cpu"))
        rows.append((kind, "(our projector: build + norm, once per geometry)", None, None,
                     time.perf_counter() - start))
        data_range = float(case.phantom.max() - case.phantom.min())
        for name, fn in contenders.items():
            image, seconds = timed(fn, case.sinogram, case.angles)
            rows.append((kind, name, psnr(case.phantom, image, data_range=data_range, mask=case.mask),
                         ssim(case.phantom, image, data_range=data_range), seconds))
            print(f"{kind:6s} {name:44s} done", flush=True)
    print()
    print(f"{'case':6s} {'method':44s} {'PSNR dB':>8s} {'SSIM':>6s} {'seconds':>8s}")
    for kind, name, p, s, seconds in rows:
        quality = f"{p:8.2f} {s:6.3f}" if p is not None else f"{'':8s} {'':6s}"
        print(f"{kind:6s} {name:44s} {quality} {seconds:8.3f}")


if __name__ == "__main__":
    main()
