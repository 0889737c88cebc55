"""Denoising and colorization figures on held-out photos (README and issue tables).

    pip install -r benchmarks/requirements.txt     # bm3d and OpenCV: comparison only
    python benchmarks/denoise.py data/val --json benchmarks/results/denoise.json [--specialist MODEL]

Denoising: every photo gets white Gaussian noise (float, not clipped: the standard benchmark)
from one seed per photo, the same for every method. BM3D is given the true sigma; OpenCV's
fastNlMeansDenoisingColored (8-bit input) gets the strength h that scored best on a tuning
photo that is not in the test set. frannet runs with the true sigma and with its own
estimate, and with the true sigma and ``--ensemble 2`` (the image and its mirror, averaged).
PSNR and SSIM are on RGB. Speed is timed separately, all methods on one photo in
one run, in seconds per megapixel with 2 threads: run it on an idle machine.

Also measured: FranNet's combined task (gray, sigma 25, x4: frannet's chain of denoiser,
upscaler and colour model against the colour model in one shot), the dial (PSNR and the change between neighbouring positions when the dial
sweeps 0..75 over an image with sigma 25), the noise estimator's error, and colorization
(PSNR against the gray input and the output luma's distance from the input luma).
Peer results are cached in ``--cache`` so the slow BM3D runs once.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from frannet.data import list_images
from frannet.degradations import LUMA, Degradation
from frannet.evaluate import pillow_upscale
from frannet.io import Picture, read_image
from frannet.metrics import psnr_rgb, ssim_rgb
from frannet.noise_estimate import estimate_noise
from frannet.pipeline import BUNDLED, Job, Models, restore_picture
from frannet.restorators import render

OPENCV_H = (0.4, 0.55, 0.7, 0.85, 1.0)  # h / sigma tried on the tuning photo
TUNING_PHOTO = "data/train/astronaut.png"
ENSEMBLE = 2  # views of frannet's self-ensemble row
ENSEMBLED = f"frannet --ensemble {ENSEMBLE}"


def _load(path) -> torch.Tensor:
    return torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()


def _degraded(img: torch.Tensor, degradation: Degradation, index: int) -> torch.Tensor:
    """Photo ``index`` degraded (the noise in float64, from the photo's own seed)."""
    return degradation.apply(img.double(), torch.Generator().manual_seed(1000 + index)).float()


def _noisy(img: torch.Tensor, sigma: float, index: int) -> torch.Tensor:
    return _degraded(img, Degradation(sigma=sigma), index)


def _picture(x: torch.Tensor) -> Picture:
    # unclipped noisy values pass straight to the model, as the benchmark's float inputs
    return Picture(rgb=x.permute(1, 2, 0).numpy())


def run_frannet(models: Models, noisy: torch.Tensor, sigma: float | None, ensemble: int = 1) -> tuple[torch.Tensor, float]:
    h, w = noisy.shape[-2:]
    start = time.perf_counter()
    out = restore_picture(_picture(noisy), Job(w, h, noise=sigma, ensemble=ensemble), models)
    return torch.from_numpy(out.rgb).permute(2, 0, 1), time.perf_counter() - start


def run_bm3d(noisy: torch.Tensor, sigma: float) -> tuple[torch.Tensor, float]:
    import bm3d

    start = time.perf_counter()
    out = bm3d.bm3d_rgb(noisy.permute(1, 2, 0).numpy().astype(np.float64), sigma / 255.0)
    return torch.from_numpy(np.clip(out, 0, 1)).permute(2, 0, 1).float(), time.perf_counter() - start


def run_opencv(noisy: torch.Tensor, h: float) -> tuple[torch.Tensor, float]:
    import cv2

    u8 = np.round(noisy.clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    start = time.perf_counter()
    out = cv2.fastNlMeansDenoisingColored(u8, None, h, h, 7, 21)
    return torch.from_numpy(out.astype(np.float32) / 255).permute(2, 0, 1), time.perf_counter() - start


def tune_opencv(sigma: float) -> float:
    img = _load(TUNING_PHOTO)[:, :384, :384]
    noisy = _noisy(img, sigma, 999)
    return max((psnr_rgb(run_opencv(noisy, f * sigma)[0], img), f * sigma) for f in OPENCV_H)[1]


def denoising(models, photos, sigmas, cache, cache_path: Path | None = None, variants: bool = True) -> dict:
    """Mean PSNR/SSIM/seconds per megapixel per sigma and method; peers (if ``cache_path``)
    are read from the cache or run and added to it; ``variants`` adds frannet with its own
    sigma and with 2 views (``--ensemble 2``)."""
    peers = cache_path is not None
    rows = {}
    for sigma in sigmas:
        h = cache.setdefault("opencv_h", {}).get(str(sigma)) if peers else None
        if peers and h is None:
            h = cache["opencv_h"][str(sigma)] = tune_opencv(sigma)
            cache_path.write_text(json.dumps(cache, indent=1))
        scores: dict = {}
        for index, (name, img) in enumerate(photos.items()):
            noisy = _noisy(img, sigma, index)
            mp = img.shape[-1] * img.shape[-2] / 1e6
            runs = {"frannet": lambda: run_frannet(models, noisy, sigma)}
            if variants:
                runs["frannet (estimated sigma)"] = lambda: run_frannet(models, noisy, None)
                runs[ENSEMBLED] = lambda: run_frannet(models, noisy, sigma, ENSEMBLE)
            for method, fn in runs.items():
                out, secs = fn()
                scores.setdefault(method, []).append((psnr_rgb(out, img), ssim_rgb(out, img), secs / mp))
            if peers:
                for method, fn in {"BM3D": lambda: run_bm3d(noisy, sigma), "OpenCV NLM": lambda: run_opencv(noisy, h)}.items():
                    key = f"{method}|{name}|{sigma}"
                    if key not in cache:
                        out, secs = fn()
                        cache[key] = (psnr_rgb(out, img), ssim_rgb(out, img), secs / mp)
                        cache_path.write_text(json.dumps(cache, indent=1))
                    scores.setdefault(method, []).append(tuple(cache[key]))
            scores.setdefault("noisy input", []).append((psnr_rgb(noisy.clamp(0, 1), img), ssim_rgb(noisy.clamp(0, 1), img), 0.0))
        rows[str(sigma)] = {m: {"psnr": float(np.mean([v[0] for v in vals])), "ssim": float(np.mean([v[1] for v in vals])),
                                "s_per_mp": float(np.mean([v[2] for v in vals])),
                                "per_photo_psnr": {n: v[0] for n, v in zip(photos, vals)}}
                            for m, vals in scores.items()}
    return rows


def speed(models, img: torch.Tensor, sigma: float = 25.0, peers: bool = True) -> dict:
    """Seconds per megapixel of each method on one photo (keep the machine idle): frannet's best
    of three runs after a warm-up, one run of each peer (BM3D alone takes minutes)."""
    noisy = _noisy(img, sigma, 0)
    mp = img.shape[-1] * img.shape[-2] / 1e6
    run_frannet(models, noisy, sigma)  # loads the model and warms up
    result = {"frannet": min(run_frannet(models, noisy, sigma)[1] for _ in range(3)) / mp,
              ENSEMBLED: min(run_frannet(models, noisy, sigma, ENSEMBLE)[1] for _ in range(3)) / mp}
    if peers:
        result["BM3D"] = run_bm3d(noisy, sigma)[1] / mp
        result["OpenCV NLM"] = run_opencv(noisy, sigma)[1] / mp
    return result


def dial(models, img: torch.Tensor, true_sigma: float = 25.0) -> list[dict]:
    noisy = _noisy(img, true_sigma, 0)
    out, prev = [], None
    for level in range(0, 80, 5):
        result = run_frannet(models, noisy, float(level))[0]
        step = None if prev is None else float((result - prev).abs().mean() * 255)
        out.append({"dial": level, "psnr": psnr_rgb(result, img), "mean_abs_change_from_previous": step})
        prev = result
    return out


def estimator(photos, sigmas=(5, 10, 15, 25, 50, 75)) -> dict:
    rows = {}
    for sigma in sigmas:
        errors = []
        for index, img in enumerate(photos.values()):
            noisy = _noisy(img, sigma, index)
            for saved in (False, True):
                x = torch.round(noisy.clamp(0, 1) * 255) / 255 if saved else noisy
                errors.append(estimate_noise(x) / sigma - 1)
        rows[str(sigma)] = {"mean_rel_error": float(np.mean(errors)), "max_abs_rel_error": float(np.max(np.abs(errors)))}
    return rows


def colorization(models, photos, scales=(1.0, 4.0)) -> dict:
    w_luma = torch.tensor(LUMA).view(3, 1, 1)
    rows = {}
    for s in scales:
        psnr_model, psnr_gray, luma_err = [], [], []
        for img in photos.values():
            h, w = (img.shape[-2] // int(s)) * int(s), (img.shape[-1] // int(s)) * int(s)
            hr = img[:, :h, :w]
            gray_lr = Degradation(sx=s, sy=s, gray=True).apply(hr)
            job = Job(w, h, noise=0.0, colorize=True)
            out = torch.from_numpy(restore_picture(_picture(gray_lr), job, models).rgb).permute(2, 0, 1)
            out = torch.round(out * 255) / 255
            psnr_model.append(psnr_rgb(out, hr))
            psnr_gray.append(psnr_rgb(pillow_upscale(gray_lr, (h, w), Image.BICUBIC) if s != 1 else gray_lr, hr))
            if s == 1:
                luma_err.append(float(((out * w_luma).sum(0) - gray_lr[0]).abs().max() * 255))
        rows[str(s)] = {"frannet": float(np.mean(psnr_model)), "gray baseline": float(np.mean(psnr_gray)),
                        "max_luma_error_255": max(luma_err) if luma_err else None}
    return rows


def combined(models, photos, sigma: float = 25.0, scale: int = 4) -> dict:
    """FranNet's combined task (a small, noisy, gray photo in; a large, clean, colour one out):
    frannet's chain (the denoiser on the small photo, the upscaler, then the colour model at the
    output size) against the colour model alone in one pass (it reads the noise level and the
    scale as conditions). PSNR on RGB and PSNR of the luma against the clean photo's."""
    w_luma = torch.tensor(LUMA).view(3, 1, 1)
    rows = {"chain": {"psnr": [], "psnr_luma": []}, "colour model in one pass": {"psnr": [], "psnr_luma": []}}
    for i, img in enumerate(photos.values()):
        h, w = (img.shape[-2] // scale) * scale, (img.shape[-1] // scale) * scale
        hr = img[:, :h, :w]
        small = _degraded(hr, Degradation(sx=scale, sy=scale, sigma=sigma, gray=True), i)  # gray: one noise plane
        chain = torch.from_numpy(restore_picture(_picture(small), Job(w, h, noise=sigma, colorize=True), models).rgb)
        one = render(models.get("colorize"), small, (h, w), degradation=Degradation(sigma=sigma, gray=True)).clamp(0, 1)
        for name, out in (("chain", chain.permute(2, 0, 1)), ("colour model in one pass", one)):
            out = torch.round(out * 255) / 255
            rows[name]["psnr"].append(psnr_rgb(out, hr))
            luma = (out * w_luma).sum(0, keepdim=True).expand(3, -1, -1)
            rows[name]["psnr_luma"].append(psnr_rgb(luma, (hr * w_luma).sum(0, keepdim=True).expand(3, -1, -1)))
    return {"sigma": sigma, "scale": scale, **{name: {k: float(np.mean(v)) for k, v in r.items()} for name, r in rows.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="held-out photos")
    parser.add_argument("--sigmas", default="15,25,50")
    parser.add_argument("--denoise-model", default=str(BUNDLED["denoise"]))
    parser.add_argument("--color-model", default=str(BUNDLED["colorize"]))
    parser.add_argument("--no-peers", action="store_true", help="skip BM3D and OpenCV")
    parser.add_argument("--cache", default="benchmarks/results/denoise-peers.json")
    parser.add_argument("--specialist", help="a model trained at sigma 25 only: compared with the bundled one there")
    parser.add_argument("--json", help="write all results here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    photos = {p.name: _load(p) for p in list_images([args.folder])}
    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    models = Models(denoise=args.denoise_model, colorize=args.color_model, bf16=False)  # the float32 reference
    sigmas = [float(s) for s in args.sigmas.split(",")]
    result = {"denoising": denoising(models, photos, sigmas, cache, None if args.no_peers else cache_path)}
    for sigma, row in result["denoising"].items():
        print(f"sigma {sigma}")
        for method, v in row.items():
            print(f"  {method:28s} {v['psnr']:6.2f} dB  SSIM {v['ssim']:.4f}")
    if args.specialist:
        row = denoising(Models(denoise=args.specialist, bf16=False), photos, [25.0], {}, variants=False)["25.0"]["frannet"]
        result["specialist_sigma25"] = row
        print(f"  sigma-25 specialist          {row['psnr']:6.2f} dB  SSIM {row['ssim']:.4f}")
    result["speed_s_per_mp"] = speed(models, photos["coffee.png"] if "coffee.png" in photos else next(iter(photos.values())),
                                     peers=not args.no_peers)
    print("seconds per megapixel at sigma 25:", json.dumps(result["speed_s_per_mp"]))
    result["estimator"] = estimator(photos)
    print("estimator:", json.dumps(result["estimator"]))
    result["dial"] = dial(models, next(iter(photos.values())))
    print("dial:", " ".join(f"{d['dial']}:{d['psnr']:.2f}" for d in result["dial"]))
    if Path(args.color_model).exists():
        result["colorization"] = colorization(models, photos)
        print("colorization:", json.dumps(result["colorization"]))
        result["combined"] = combined(models, photos)
        print("gray, noisy and small in, frannet's chain against the colour model in one pass:",
              json.dumps(result["combined"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
