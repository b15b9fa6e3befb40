"""FISTA and ADMM for f(x) = g(x) + h(x): data fit ½‖Hx − y‖² plus total variation λ‖∇x‖₁.

Both alternate a data-consistency step with a denoising step (the proximal map of h). FISTA takes a
gradient step on g then the TV prox, with Nesterov's momentum; ADMM solves the data step exactly (a
closed form in Fourier space for a periodic blur) and shrinks the gradient, then updates its scaled
dual. ``deconvolve_iter`` streams every iterate, so the objective and the PSNR can be followed per
iteration, as the GUI's live plot does.
"""

from __future__ import annotations

import numpy as np
import torch
from _common import DETAIL_NOTE, astronaut_case, detail, parse_args, quality_title, save, score, show
from matplotlib import pyplot as plt

import napari_invprob as nip
from napari_invprob import deconvolution, metrics, operators
from napari_invprob.priors.tv import tv_norm

METHODS = {"fista-tv": "FISTA-TV", "admm-tv": "ADMM-TV"}
LAM = deconvolution.METHODS["admm-tv"].default_lam  # tuned on the lecture's case; the same λ for both


def tv_objective(case, lam: float):
    """``x -> ½‖Hx − y‖² + λ‖∇x‖₁`` on data scaled to a peak of 1, as ``deconvolve`` poses it.

    Computed the same way for both methods (ADMM does not report an objective of its own: it would cost
    a blur per iteration).
    """
    scale = float(np.abs(case.blurred).max())
    y = torch.from_numpy(np.moveaxis(case.blurred, case.channel_axis, 0) / scale)  # channels as a batch
    blur = operators.Convolution(case.psf / case.psf.sum(), tuple(y.shape[1:]))
    gradient = operators.Gradient(tuple(y.shape[1:]), boundary="periodic")

    def objective(x: torch.Tensor) -> float:
        z = x.movedim(case.channel_axis, 0) / scale
        return 0.5 * float(torch.sum((blur(z) - y) ** 2)) + lam * tv_norm(gradient, z)

    return objective


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    case = astronaut_case(args.small)
    axis = case.channel_axis
    n_iter = 4 if args.small else 30
    snapshots = (1, 2, n_iter) if args.small else (1, 5, 10, n_iter)
    score("input (blurred + noise)", case.clean, case.blurred, channel_axis=axis)

    objective = tv_objective(case, LAM)
    history, frames = {}, {}
    for method in METHODS:
        history[method] = {"objective": [], "psnr": []}
        for it in nip.deconvolve_iter(case.blurred, case.psf, method=method, lam=LAM, n_iter=n_iter,
                                      channel_axis=axis):
            history[method]["objective"].append(objective(it.x))
            history[method]["psnr"].append(metrics.psnr(case.clean, it.x, data_range=1.0))
            if it.iteration in snapshots:
                frames[method, it.iteration] = it.x.numpy()
        print(f"{method}: {n_iter} iterations in {it.elapsed:.2f} s")

    lowest = min(min(h["objective"]) for h in history.values())
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
    for method, label in METHODS.items():
        iterations = range(1, n_iter + 1)
        values = np.asarray(history[method]["objective"])
        ax0.semilogy(iterations, values - lowest + 1e-3 * lowest, label=label)
        ax1.plot(iterations, history[method]["psnr"], label=label)
    ax0.set_title("objective F(x) = ½‖Hx − y‖² + λ‖∇x‖₁: F(x_k) − F_min + 0.001 F_min", fontsize=10)
    ax1.set_title("PSNR against the clean image", fontsize=10)
    for ax, ylabel in ((ax0, "objective"), (ax1, "PSNR (dB)")):
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
    save(fig, args.out, "04_fista_admm_convergence")

    fig, axes = plt.subplots(len(METHODS), len(snapshots), figsize=(3.6 * len(snapshots), 3.9 * len(METHODS)))
    for row, (method, label) in zip(axes, METHODS.items()):
        for ax, k in zip(row, snapshots):
            p, s = score(f"{method}, iteration {k}", case.clean, frames[method, k], channel_axis=axis)
            show(ax, detail(frames[method, k]), quality_title(f"{label}, iteration {k}", p, s))
    fig.suptitle(DETAIL_NOTE, fontsize=10)
    save(fig, args.out, "04_fista_admm_iterates")


if __name__ == "__main__":
    main()
