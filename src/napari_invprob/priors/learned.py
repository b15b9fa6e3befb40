"""A small learned, noise-level-conditioned denoiser for plug-and-play, shipped with its weights.

The network (:class:`DenoiserNet`) is a bias-free residual U-Net in the spirit of DRUNet (Zhang et
al., 2021), cut down to run a 512x512 denoise in a fraction of a second on two CPU cores. It sees one
grey image and a constant noise-level map and predicts the noise, which is subtracted. It was trained
by ``scripts/train_denoiser.py`` on scikit-image's bundled images and synthetic microscopy-like
textures (never on the images the tests score); ``weights/MODEL_CARD.md`` records the data, the steps
and the validation PSNR.

:func:`learned_denoiser` returns a denoiser callable ``D(x, sigma)`` for the plug-and-play solvers:
any batch of images ``(..., H, W)`` is denoised image by image (RGB channels and the slices of a
volume are simply more images of the batch).
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib import resources

import torch
from torch import nn
from torch.nn import functional as F

#: Largest noise standard deviation (on [0, 1] data) seen in training.
SIGMA_MAX = 0.2
#: File name of the shipped weights inside ``napari_invprob/priors/weights``.
WEIGHTS_FILE = "denoiser_unet.pt"
#: Images are processed in chunks of this many pixels to bound memory.
_CHUNK_PIXELS = 4 * 512 * 512


def _conv3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)


class _ResBlock(nn.Module):
    """``x + conv(relu(conv(x)))`` at a fixed width."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(_conv3(channels, channels), nn.ReLU(inplace=True), _conv3(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DenoiserNet(nn.Module):
    """Bias-free residual U-Net mapping (noisy image, noise map) to a denoised image.

    Parameters
    ----------
    widths : tuple of int
        Feature channels per scale; each further scale halves the resolution (strided 2x2 conv down,
        transposed 2x2 conv up, additive skips), so input sizes must be divisible by
        ``2 ** (len(widths) - 1)`` (:func:`learned_denoiser` pads for you).
    blocks : int
        Residual blocks per scale on each side of the U.

    Notes
    -----
    ``forward(x, sigma_map)`` takes ``x`` and ``sigma_map`` shaped ``(N, 1, H, W)`` and returns
    ``x - noise_estimate``.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), blocks: int = 1):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.blocks = int(blocks)
        self.head = _conv3(2, widths[0])
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            self.down.append(
                nn.Sequential(*[_ResBlock(w_in) for _ in range(blocks)], nn.Conv2d(w_in, w_out, 2, 2, bias=False))
            )
            self.up.append(
                nn.Sequential(
                    nn.ConvTranspose2d(w_out, w_in, 2, 2, bias=False), *[_ResBlock(w_in) for _ in range(blocks)]
                )
            )
        self.bottom = nn.Sequential(*[_ResBlock(widths[-1]) for _ in range(blocks)])
        self.tail = _conv3(widths[0], 1)

    @property
    def multiple(self) -> int:
        """Input sizes must be divisible by this number."""
        return 2 ** (len(self.widths) - 1)

    def forward(self, x: torch.Tensor, sigma_map: torch.Tensor) -> torch.Tensor:
        h = self.head(torch.cat([x, sigma_map], dim=1))
        skips = []
        for down in self.down:
            skips.append(h)
            h = down(h)
        h = self.bottom(h)
        for up in reversed(self.up):
            h = up[0](h) + skips.pop()
            h = up[1:](h)
        return x - self.tail(h)


def build_net(config: dict) -> DenoiserNet:
    """Build an untrained :class:`DenoiserNet` from its stored ``config`` (``widths``, ``blocks``)."""
    return DenoiserNet(widths=tuple(config["widths"]), blocks=int(config["blocks"]))


def _weights_bytes() -> bytes:
    return resources.files("napari_invprob.priors").joinpath("weights", WEIGHTS_FILE).read_bytes()


@lru_cache(maxsize=1)
def _checkpoint() -> dict:
    return torch.load(io.BytesIO(_weights_bytes()), map_location="cpu", weights_only=True)


@lru_cache(maxsize=4)
def load_net(device: torch.device) -> DenoiserNet:
    """The shipped network, in float32 evaluation mode on ``device`` (loaded once per device, offline).

    Parameters
    ----------
    device : torch.device
        Where to run it.

    Returns
    -------
    DenoiserNet
    """
    checkpoint = _checkpoint()
    net = build_net(checkpoint["config"])
    net.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
    return net.to(device).eval().requires_grad_(False)


def _denoise_batch(net: DenoiserNet, images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Denoise ``images`` shaped ``(N, H, W)`` at noise level ``sigma <= SIGMA_MAX``."""
    n, h, w = images.shape
    m = net.multiple
    pad_h, pad_w = (-h) % m, (-w) % m
    x = images[:, None]
    if pad_h or pad_w:
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    chunk = max(1, _CHUNK_PIXELS // (x.shape[-1] * x.shape[-2]))
    out = torch.empty_like(x)
    for start in range(0, n, chunk):
        part = x[start : start + chunk]
        out[start : start + chunk] = net(part, torch.full_like(part, sigma))
    return out[:, 0, :h, :w]


def learned_denoiser():
    """Return the learned denoiser ``D(x, sigma)`` for plug-and-play solvers.

    The network runs on the device of each input (loaded there once, then cached).

    Returns
    -------
    callable
        ``D(x: Tensor, sigma: float) -> Tensor``: ``x`` is a float32 batch of images ``(..., H, W)`` on
        about [0, 1] (the last two axes are the image, every leading index one more image: RGB channels,
        volume slices), ``sigma`` the standard deviation of its Gaussian noise, ``0 <= sigma``. Levels
        above the trained range ``SIGMA_MAX`` use the scale equivariance of noise,
        ``D_sigma(x) = (sigma / SIGMA_MAX) * D_SIGMA_MAX(x * SIGMA_MAX / sigma)``.
    """
    def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"the learned denoiser takes a torch.Tensor, got {type(x).__name__}")
        if x.ndim < 2:
            raise ValueError(f"the learned denoiser needs images (..., H, W), got shape {tuple(x.shape)}")
        sigma = float(sigma)
        if not sigma >= 0.0:
            raise ValueError(f"sigma must be a non-negative number, got {sigma}")
        net = load_net(x.device)
        images = x.detach().to(torch.float32).reshape(-1, *x.shape[-2:])
        with torch.no_grad():
            if sigma <= SIGMA_MAX:
                out = _denoise_batch(net, images, sigma)
            else:
                scale = sigma / SIGMA_MAX
                out = scale * _denoise_batch(net, images / scale, SIGMA_MAX)
        return out.reshape(x.shape).to(x.dtype)

    return denoise
