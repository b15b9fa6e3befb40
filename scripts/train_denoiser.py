"""Train the learned denoiser shipped in ``napari_invprob/priors/weights`` and write its model card.

Usage::

    # the shipped weights, in four stages (CPU, one thread: ~21 + ~23 + ~53 + ~56 min on a 2-core machine)
    .venv/bin/python scripts/train_denoiser.py --out /tmp/stage1
    .venv/bin/python scripts/train_denoiser.py --init /tmp/stage1/denoiser_unet.pt --seed 1 --steps 1500 --lr 3e-4 \
        --out /tmp/stage2
    .venv/bin/python scripts/train_denoiser.py --init /tmp/stage2/denoiser_unet.pt --seed 2 --steps 4000 --lr 3e-4 \
        --out /tmp/stage3
    .venv/bin/python scripts/train_denoiser.py --init /tmp/stage3/denoiser_unet.pt --seed 3 --steps 5000 --lr 2e-4
    .venv/bin/python scripts/train_denoiser.py --steps 50 --out /tmp/try   # a quick smoke run
    # rescore weights and rewrite their model card, no training (e.g. after the baselines changed)
    .venv/bin/python scripts/train_denoiser.py --score-only --init /tmp/stage4/denoiser_unet.pt --out /tmp/stage4

Reproducible: every random draw comes from ``--seed``. Training data are scikit-image's bundled images
that load offline (each colour channel taken as one grey image, large ones also at half size) and
seeded synthetic microscopy-like textures (Gaussian spots, filaments, multi-octave value noise, smoothed
binary blobs). The images the project tests and benchmarks on are never used (``TEST_IMAGES``, asserted),
and ``VALIDATION_IMAGES`` are held out for the reported validation PSNR.

Each training sample is a random ``--patch`` square crop (random flips and 90-degree turns), noise of
standard deviation ``sigma`` drawn half from U(0, 0.2) and half from U(0, 0.06) (plug-and-play leans on
the low levels), and the network is fitted with Adam on the L1 error, cosine learning rate after a
short warm-up. The weights are stored in float16; the validation numbers are measured with the stored
(rounded) weights.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage import data as skdata
from skimage import restoration
from skimage.color import rgb2gray
from skimage.transform import rescale
from skimage.util import img_as_float32

from napari_invprob.metrics import psnr
from napari_invprob.priors.learned import SIGMA_MAX, WEIGHTS_FILE, DenoiserNet, build_net

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "src" / "napari_invprob" / "priors" / "weights"

#: Images the project's tests and benchmarks score: never trained or validated on.
TEST_IMAGES = ("astronaut", "camera", "shepp_logan_phantom")
#: Held out from training; the model card reports PSNR on them.
VALIDATION_IMAGES = ("coins", "immunohistochemistry")
#: scikit-image images that load without a network (checked with scikit-image 0.26).
TRAINING_IMAGES = (
    "moon",
    "text",
    "cell",
    "page",
    "clock",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "retina",
    "grass",
    "gravel",
    "brick",
    "colorwheel",
    "microaneurysms",
    "horse",
    "stereo_motorcycle",
)
VALIDATION_SIGMAS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2)
CONFIG = {"widths": [16, 32, 64, 128], "blocks": 1}


def grey_planes(name: str) -> list[np.ndarray]:
    """The scikit-image image ``name`` as float32 grey planes on [0, 1] (one per colour channel)."""
    image = getattr(skdata, name)()
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = np.concatenate([image[0], image[1]], axis=1)
    image = img_as_float32(image)
    if image.ndim == 2:
        return [image]
    return [np.ascontiguousarray(image[..., c]) for c in range(min(3, image.shape[-1]))]


def natural_pool() -> list[np.ndarray]:
    """Training planes from scikit-image, with half-size copies of the large ones."""
    assert not set(TRAINING_IMAGES) & set(TEST_IMAGES), "a test image is in the training set"
    assert not set(TRAINING_IMAGES) & set(VALIDATION_IMAGES), "a validation image is in the training set"
    pool = []
    for name in TRAINING_IMAGES:
        for plane in grey_planes(name):
            pool.append(plane)
            if min(plane.shape) >= 512:
                pool.append(rescale(plane, 0.5, anti_aliasing=True).astype(np.float32))
    return pool


def _normalise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lo, hi = image.min(), image.max()
    image = (image - lo) / (hi - lo + 1e-8)
    low = rng.uniform(0.0, 0.2)
    return (low + (rng.uniform(0.6, 1.0) - low) * image).astype(np.float32)


def spots(rng: np.random.Generator, size: int) -> np.ndarray:
    """Fluorescence-like Gaussian spots of random sizes and brightness on a smooth background."""
    image = np.zeros((size, size), np.float32)
    for sigma in (1.0, 2.0, 4.0):
        points = np.zeros((size, size), np.float32)
        n = rng.integers(30, 200)
        points[rng.integers(0, size, n), rng.integers(0, size, n)] = rng.uniform(0.3, 1.0, n)
        image += ndimage.gaussian_filter(points, sigma) * sigma**2 * 2 * np.pi
    return _normalise(image + 0.3 * value_noise(rng, size, octaves=2), rng)


def filaments(rng: np.random.Generator, size: int) -> np.ndarray:
    """Cytoskeleton-like filaments: smooth random curves drawn thin, then blurred."""
    image = np.zeros((size, size), np.float32)
    for _ in range(rng.integers(10, 40)):
        pos = rng.uniform(0, size, 2)
        angle = rng.uniform(0, 2 * np.pi)
        brightness = rng.uniform(0.3, 1.0)
        for _ in range(rng.integers(50, 400)):
            angle += rng.normal(0, 0.1)
            pos = pos + np.array([np.cos(angle), np.sin(angle)])
            r, c = int(pos[0]) % size, int(pos[1]) % size
            image[r, c] = max(image[r, c], brightness)
    image = ndimage.gaussian_filter(image, rng.uniform(0.7, 1.5))
    return _normalise(image, rng)


def value_noise(rng: np.random.Generator, size: int, octaves: int = 5) -> np.ndarray:
    """Multi-octave smooth value noise (a Perlin-like cloud texture) on [0, 1]."""
    image = np.zeros((size, size), np.float32)
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
        image += ndimage.zoom(grid, size / cells, order=3)[:size, :size] / 2**octave
    return (image - image.min()) / (image.max() - image.min() + 1e-8)


def blobs(rng: np.random.Generator, size: int) -> np.ndarray:
    """Cell-like smoothed binary blobs with textured interiors."""
    fraction = rng.uniform(0.05, 0.2)
    volume = rng.uniform(0.2, 0.5)
    mask = skdata.binary_blobs(size, blob_size_fraction=fraction, volume_fraction=volume, rng=int(rng.integers(2**31)))
    image = ndimage.gaussian_filter(mask.astype(np.float32), rng.uniform(0.5, 2.0))
    return _normalise(image * (0.7 + 0.3 * value_noise(rng, size, octaves=4)), rng)


#: The synthetic texture makers ``(rng, size) -> image`` and how many of each the training pool holds.
SYNTHETIC_MAKERS = (spots, filaments, lambda r, s: _normalise(value_noise(r, s), r), blobs)
SYNTHETIC_PER_KIND = 6


def synthetic_pool(rng: np.random.Generator, size: int = 256) -> list[np.ndarray]:
    """Seeded synthetic textures, :data:`SYNTHETIC_PER_KIND` of each kind."""
    return [make(rng, size) for make in SYNTHETIC_MAKERS for _ in range(SYNTHETIC_PER_KIND)]


def sample_batch(pool, weights, rng, batch: int, patch: int) -> torch.Tensor:
    """Random crops with random flips and 90-degree turns, shaped ``(batch, 1, patch, patch)``."""
    picks = rng.choice(len(pool), size=batch, p=weights)
    crops = np.empty((batch, patch, patch), np.float32)
    for i, k in enumerate(picks):
        image = pool[k]
        r = rng.integers(0, image.shape[0] - patch + 1)
        c = rng.integers(0, image.shape[1] - patch + 1)
        crop = image[r : r + patch, c : c + patch]
        crop = np.rot90(crop, rng.integers(4))
        crops[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return torch.from_numpy(crops)[:, None]


def sample_sigmas(rng, batch: int) -> torch.Tensor:
    """Noise levels: half from U(0, SIGMA_MAX), half from U(0, 0.06)."""
    high = rng.random(batch) < 0.5
    sigma = np.where(high, rng.uniform(0, SIGMA_MAX, batch), rng.uniform(0, 0.06, batch))
    return torch.from_numpy(sigma.astype(np.float32))[:, None, None, None]


def denoise_full(net: DenoiserNet, noisy: np.ndarray, sigma: float, device) -> np.ndarray:
    """Denoise one grey image with ``net`` (padded to the network's multiple)."""
    m = net.multiple
    h, w = noisy.shape
    x = torch.from_numpy(np.pad(noisy, ((0, (-h) % m), (0, (-w) % m)), mode="reflect"))[None, None].to(device)
    with torch.no_grad():
        out = net(x, torch.full_like(x, sigma))
    return out[0, 0, :h, :w].cpu().numpy()


def evaluate(net, planes, device, seed: int) -> dict[float, float]:
    """Mean PSNR over ``planes`` per noise level in ``VALIDATION_SIGMAS`` (fixed noise seeds)."""
    net.eval()
    scores = {}
    for sigma in VALIDATION_SIGMAS:
        values = []
        for k, clean in enumerate(planes):
            noisy = clean + sigma * np.random.default_rng(seed + k).standard_normal(clean.shape).astype(np.float32)
            values.append(psnr(clean, denoise_full(net, noisy, sigma, device), data_range=1.0))
        scores[sigma] = float(np.mean(values))
    net.train()
    return scores


#: Non-local means settings the test table tries (``h`` in units of sigma, fast mode?): the best one is
#: reported beside scikit-image's documented default (h = 0.8 sigma, fast mode).
NLM_SETTINGS = ((0.6, True), (0.8, True), (1.0, False), (1.2, False))


def baselines(clean: np.ndarray, sigma: float, seed: int, net, device) -> dict[str, float]:
    """PSNR of the net, the best TV weight and non-local means (default and best setting) on one test image."""
    noisy = clean + sigma * np.random.default_rng(seed).standard_normal(clean.shape).astype(np.float32)
    tv = max(
        psnr(clean, restoration.denoise_tv_chambolle(noisy, weight=w), data_range=1.0)
        for w in np.geomspace(0.01, 0.2, 12)
    )
    nlm = {
        (h, fast): psnr(clean, restoration.denoise_nl_means(noisy, h=h * sigma, sigma=sigma, patch_size=5,
                                                            patch_distance=6, fast_mode=fast), data_range=1.0)
        for h, fast in NLM_SETTINGS
    }
    return {
        "noisy": psnr(clean, noisy, data_range=1.0),
        "learned": psnr(clean, denoise_full(net, noisy, sigma, device), data_range=1.0),
        "tv (best weight)": tv,
        "nl-means (h=0.8 sigma, fast)": nlm[0.8, True],
        "nl-means (best h, fast or slow)": max(nlm.values()),
    }


def round_trip_half(net: DenoiserNet) -> dict:
    """The float16 state dict to store; ``net`` is set to the rounded weights."""
    state = {k: v.detach().cpu().half() for k, v in net.state_dict().items()}
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return state


def write_model_card(path: Path, record: dict) -> None:
    """Write the model card, a Markdown record of data, training and scores."""
    lines = [
        "# Learned denoiser: model card",
        "",
        f"Weights: `{WEIGHTS_FILE}` ({record['size_kb']:.0f} kB, float16), made by `scripts/train_denoiser.py` "
        f"on {record['date']}.",
        "",
        "## Network",
        f"Bias-free residual U-Net (DRUNet-like): widths {CONFIG['widths']}, {CONFIG['blocks']} residual blocks per "
        f"scale and side, strided-conv down / transposed-conv up, additive skips; input = noisy grey image + "
        f"constant noise-level map, output = image - predicted noise. {record['params']:,} parameters.",
        f"Noise range: sigma 0-{SIGMA_MAX} on [0, 1] data (above it, `learned_denoiser` rescales the image).",
        "",
        "## Data",
        "Training: scikit-image images " + ", ".join(f"`{n}`" for n in TRAINING_IMAGES)
        + " (each colour channel as a grey image; images of 512 px and more also at half size), and "
        f"{record['n_synthetic']} seeded synthetic textures (Gaussian spots, filaments, value noise, smoothed blobs).",
        "Validation (held out): " + ", ".join(f"`{n}`" for n in VALIDATION_IMAGES) + " (channels as grey images).",
        "Never used (the project's test images): " + ", ".join(f"`{n}`" for n in TEST_IMAGES) + ".",
        "",
        "## Training",
        "Adam on the L1 error, linear warm-up then cosine decay of the learning rate; noise sigma half U(0, 0.2), "
        "half U(0, 0.06). Stages (each continues from the one before):",
        "",
        *(
            f"{k}. `train_denoiser.py --seed {s['seed']} --steps {s['steps']} --batch {s['batch']} --patch {s['patch']} "
            f"--lr {s['lr']} --threads {s['threads']}" + (f" --init <stage-{k - 1} weights>`" if k > 1 else "`")
            + f": device `{s['device']}` ({s['machine']}), wall time {s['minutes']:.1f} min."
            for k, s in enumerate(record["stages"], 1)
        ),
        "",
        "## Validation PSNR (dB, mean over the validation planes, stored float16 weights)",
        "",
        "| sigma | noisy | learned |",
        "|---|---|---|",
    ]
    for sigma, value in record["validation"].items():
        lines.append(f"| {sigma} | {-20 * np.log10(sigma):.2f} | {value:.2f} |")
    lines += ["", "## Test images (never seen in training or validation), sigma 0.05, noise seed 0", "",
              "| image | " + " | ".join(next(iter(record["test"].values()))) + " |",
              "|---" * (1 + len(next(iter(record["test"].values())))) + "|"]
    for name, row in record["test"].items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in row.values()) + " |")
    path.write_text("\n".join(lines) + "\n")


def train(args) -> None:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(args.seed)

    natural = natural_pool()
    synthetic = synthetic_pool(rng)
    pool = natural + synthetic
    # Natural planes share 70 % of the draws (by area), synthetic textures 30 %.
    area = np.array([p.size for p in natural], float)
    weights = np.concatenate([0.7 * area / area.sum(), np.full(len(synthetic), 0.3 / len(synthetic))])

    net = build_net(CONFIG).to(device)
    stages = []
    if args.init is not None:
        checkpoint = torch.load(args.init, map_location="cpu", weights_only=True)
        net.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
        stages = list(checkpoint["stages"])
    optimiser = torch.optim.Adam(net.parameters(), lr=args.lr)
    warmup = max(1, args.steps // 20)

    def learning_rate_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * (step - warmup) / (args.steps - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, learning_rate_factor)
    start = time.perf_counter()
    running = 0.0
    for step in range(1, args.steps + 1):
        clean = sample_batch(pool, weights, rng, args.batch, args.patch)
        sigma = sample_sigmas(rng, args.batch)
        noise = torch.from_numpy(rng.standard_normal(clean.shape).astype(np.float32))
        clean, sigma, noise = clean.to(device), sigma.to(device), noise.to(device)
        noisy = clean + sigma * noise
        loss = (net(noisy, sigma.expand_as(noisy)) - clean).abs().mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        running += loss.item()
        if step % args.log_every == 0 or step == args.steps:
            elapsed = time.perf_counter() - start
            print(f"step {step:5d}  loss {running / args.log_every:.5f}  {step / elapsed:.2f} steps/s  "
                  f"{elapsed / 60:.1f} min", flush=True)
            running = 0.0
    minutes = (time.perf_counter() - start) / 60
    stages.append({
        "seed": args.seed, "steps": args.steps, "batch": args.batch, "patch": args.patch, "lr": args.lr,
        "threads": args.threads, "device": str(device), "minutes": minutes,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    })
    report(net, stages, len(synthetic), args.out, device, seed=args.seed)


def score_only(args) -> None:
    """Score the ``--init`` weights and write them with a fresh model card to ``--out``, without training
    (the validation noise seeded by the last stage's seed, as at the end of that stage)."""
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    checkpoint = torch.load(args.init, map_location="cpu", weights_only=True)
    net = build_net(checkpoint["config"]).to(device)
    net.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
    stages = list(checkpoint["stages"])
    n_synthetic = len(SYNTHETIC_MAKERS) * SYNTHETIC_PER_KIND
    report(net, stages, n_synthetic, args.out, device, seed=stages[-1]["seed"])


def report(net: DenoiserNet, stages: list[dict], n_synthetic: int, out: Path, device, *, seed: int) -> None:
    """Store ``net`` in float16 in ``out`` and write its model card: stages, validation and test scores
    (measured with the stored, rounded weights)."""
    validation = [p for name in VALIDATION_IMAGES for p in grey_planes(name)]
    state = round_trip_half(net)
    out.mkdir(parents=True, exist_ok=True)
    weights_path = out / WEIGHTS_FILE
    torch.save({"config": CONFIG, "state_dict": state, "stages": stages}, weights_path)
    scores = evaluate(net, validation, device, seed=seed)
    print("validation PSNR:", {s: round(v, 2) for s, v in scores.items()})
    test = {
        "camera": baselines(img_as_float32(skdata.camera()), 0.05, 0, net, device),
        "astronaut (grey)": baselines(rgb2gray(img_as_float32(skdata.astronaut())).astype(np.float32), 0.05, 0, net,
                                      device),
    }
    print("test:", test)
    write_model_card(
        out / "MODEL_CARD.md",
        {
            "date": datetime.date.today().isoformat(),
            "size_kb": weights_path.stat().st_size / 1024,
            "params": sum(p.numel() for p in net.parameters()),
            "n_synthetic": n_synthetic,
            "stages": stages,
            "validation": scores,
            "test": test,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 ran 3-4x faster than 2 on a busy 2-core machine)")
    parser.add_argument("--init", type=Path, default=None, help="continue training from these weights")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder for the weights and model card")
    parser.add_argument("--score-only", action="store_true",
                        help="no training: score the --init weights and rewrite them and the model card in --out")
    args = parser.parse_args()
    if args.score_only:
        if args.init is None:
            parser.error("--score-only needs --init")
        score_only(args)
    else:
        train(args)


if __name__ == "__main__":
    main()
