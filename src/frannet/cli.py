"""The ``frannet`` command: a thin layer over the library.

    frannet restore INPUT -o OUTPUT [--scale S | --size WxH] [--noise SIGMA|auto] [--colorize] [--quality Q]
                    [--restorator diffusion --model M --steps K --eta E --seed S --samples N --uncertainty PNG]
                    [--adaptive SIGMA --steps-map PNG]
    frannet denoise INPUT -o OUTPUT [--noise SIGMA|auto]
    frannet colorize INPUT -o OUTPUT [--scale S | --size WxH] [--noise SIGMA|auto]
    frannet inpaint INPUT --mask MASK -o OUTPUT [--steps K]      (white in MASK = missing)
    frannet sense INPUT --ratio 0.25 -o MEASUREMENTS.npz [--block 32] [--seed 0]
    frannet reconstruct MEASUREMENTS.npz -o OUTPUT [--steps K]
    frannet estimate-noise IMAGE...
    frannet interpolate A B --alpha 0.3 -o C
    frannet train CONFIG [--resume CKPT]
    frannet export CKPT -o MODEL [--half]
    frannet eval HR_FOLDER [--scales 2,3,4,6,8] [--json OUT]
    frannet bench [--size 512] [--scale 4]
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import warnings
from pathlib import Path

from .checkpoint import CheckpointError
from .config import ConfigError
from .io import DEFAULT_QUALITY, IMAGE_SUFFIXES, ConversionWarning, ImageReadError
from .parsing import parse_noise, parse_region, parse_scale, parse_size


LARGE_OUTPUT = 4_000_000  # outputs with more pixels than this get a progress bar of their own


class UsageError(ValueError):
    """A bad command-line argument."""


def _has_wildcard(text: str) -> bool:
    return any(c in text for c in "*?[")


def _glob_root(pattern: str) -> Path:
    """The folders of a glob pattern before its first wildcard: outputs mirror paths below it."""
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if _has_wildcard(part))
    return Path(*parts[:fixed]) if fixed else Path()


def _image_files(paths) -> list[Path]:
    return sorted(p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _restore_jobs(given: str, dst: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs for a file, a folder (recursively) or a glob pattern (``**`` is
    any depth; quote it so the shell leaves it alone)."""
    src = Path(given)
    is_glob = not src.exists() and _has_wildcard(given)
    if src.is_dir() or is_glob:
        root = _glob_root(given) if is_glob else src
        paths = (Path(p) for p in glob.glob(given, recursive=True)) if is_glob else src.rglob("*")
        files = _image_files(paths)
        if not files:
            raise UsageError(f"{src}: no images {'match' if is_glob else 'found'}")
        if dst.exists() and not dst.is_dir():
            raise UsageError(f"{dst}: the input is {'a pattern' if is_glob else 'a folder'}, so the output "
                             f"must be a folder")
        return [(f, dst / f.relative_to(root)) for f in files]
    if not src.exists():
        raise UsageError(f"{src}: no such file or folder")
    return [(src, dst / src.name if dst.is_dir() else dst)]


def _restore(args) -> int:
    from tqdm import tqdm

    from .api import output_size
    from .distributed import process_share
    from .io import read_image, write_image
    from .pipeline import Job, Models, restore_bands, restore_picture
    from .streaming import needs_streaming, write_streamed_tiff

    if args.scale is not None and args.size is not None:
        raise UsageError("give one of --scale or --size, not both")
    noise = parse_noise(args.noise)
    if args.scale is None and args.size is None and noise == 0 and not args.colorize:
        raise UsageError("nothing to do: give --scale or --size to upscale, --noise to denoise, or --colorize")
    scale = parse_scale(args.scale) if args.scale else None
    size = parse_size(args.size) if args.size else None
    scale = 1.0 if scale is None and size is None else scale
    region = parse_region(args.region) if args.region else None
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be between 1 and 100, got {args.quality}")
    jobs = _restore_jobs(args.input, Path(args.output))
    for src, dst in jobs:
        if dst.suffix.lower() not in IMAGE_SUFFIXES:
            raise UsageError(f"{dst}: unsupported output format {dst.suffix!r}")
        if dst.exists() and dst.resolve() == src.resolve() and not args.overwrite:
            raise UsageError(f"{dst} is the input; pass --overwrite to replace it")
    rank, world = process_share()
    if world > 1:  # under torchrun: this process's share of the files
        jobs = jobs[rank::world]
    skipped = 0
    if args.skip_existing or world > 1:  # writes are atomic, so an existing output is a finished one
        todo = [(src, dst) for src, dst in jobs if not dst.exists()]
        skipped, jobs = len(jobs) - len(todo), todo
    stage = "colorize" if args.colorize else "upscale" if noise == 0 else "denoise"
    models = Models(**{stage: args.model})
    sampling = _sampling(args, single_output=len(jobs) == 1 and not Path(args.input).is_dir())
    failures = []
    for src, dst in tqdm(jobs, desc="restore", unit="img", disable=len(jobs) < 2 or args.quiet):
        try:
            picture = read_image(src, max_pixels=args.max_pixels)  # the output is no smaller than the input
            width, height = output_size(*picture.size, scale=scale, size=size, max_pixels=args.max_pixels)
            job = Job(width, height, noise=noise, colorize=args.colorize, consistency=args.consistency,
                      tile=args.tile, max_memory=args.max_memory << 20, restorator=args.restorator,
                      sampling=sampling, region=region, progressive=args.progressive)
            x0, y0, x1, y1 = job.window
            with tqdm(total=(x1 - x0) * (y1 - y0), desc=src.name, unit="px", unit_scale=True, leave=False,
                      disable=args.quiet or (x1 - x0) * (y1 - y0) < LARGE_OUTPUT) as pixels:
                if needs_streaming(x1 - x0, y1 - y0, job.max_memory):  # never held whole: written band by band
                    header, bands = restore_bands(picture, job, models, progress=pixels.update)
                    write_streamed_tiff(dst, header, x1 - x0, y1 - y0, bands, alpha=picture.alpha is not None)
                    continue
                result = restore_picture(picture, job, models, progress=pixels.update)
                write_image(dst, result, quality=args.quality)
                if args.uncertainty:
                    _write_uncertainty(args.uncertainty, result)
                if sampling.adaptive or args.steps_map:
                    _report_evaluations(args, result, sampling, models.get(stage).cfg)
        except Exception as exc:  # a batch keeps going past any bad file and reports it
            if len(jobs) == 1:
                raise
            failures.append(str(exc) if str(src) in str(exc) else f"{src}: {exc or type(exc).__name__}")
    if len(jobs) > 1 or skipped or world > 1:
        who = f"rank {rank}/{world}: " if world > 1 else ""
        print(f"{who}restored {len(jobs) - len(failures)} of {len(jobs)} images into {args.output}"
              + (f", skipped {skipped} already done" if skipped else ""))
        for why in failures:
            print(f"  failed: {why}", file=sys.stderr)
    return 1 if failures else 0


def _sampling(args, single_output: bool):
    """The iterative restorators' options from the command line."""
    from .restorators.iterative import Sampling

    if args.uncertainty and not single_output:
        raise UsageError("--uncertainty writes one map: give a single input image")
    if args.uncertainty and args.samples < 2:
        raise UsageError("--uncertainty needs --samples 2 or more (the map is the std of the samples)")
    if args.steps_map and not single_output:
        raise UsageError("--steps-map writes one map: give a single input image")
    return Sampling(steps=args.steps, eta=args.eta, seed=args.seed, samples=args.samples, adaptive=args.adaptive)


def _write_uncertainty(path: str, result) -> None:
    from .uncertainty import write_heatmap

    top = write_heatmap(path, result.std)
    print(f"uncertainty map: {path} (brightest = std {top * 255:.1f} on the 0-255 scale or more)")


def _report_evaluations(args, result, sampling, cfg) -> None:
    """Print the decoder evaluations against uniform steps; write the steps map if asked."""
    from .restorators.iterative import transitions
    from .uncertainty import write_heatmap

    if result.evaluations is None:
        raise UsageError("--adaptive and --steps-map need an iterative (autoregressive or diffusion) model")
    steps = result.evaluations / sampling.samples  # per sample: constant over each adaptive tile
    total, uniform = int(result.evaluations.sum()), transitions(cfg, sampling) * sampling.samples * steps.size
    if args.steps_map:
        top = write_heatmap(args.steps_map, steps)
        print(f"steps map: {args.steps_map} (brightest = {top:g} steps per pixel and sample or more)")
    if not args.quiet:
        print(f"decoder evaluations: {total:,} of {uniform:,} with uniform steps ({100 * total / uniform:.0f}%)")


def _progress_bar(args, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=args.quiet)


def _inpaint(args) -> int:
    import dataclasses

    import torch

    from .inverse import inpaint_image, model_denoiser
    from .io import read_image, write_image
    from .pipeline import Models

    picture, mask = read_image(args.input), read_image(args.mask)
    if mask.size != picture.size:
        raise UsageError(f"{args.mask} is {mask.size[0]}x{mask.size[1]} but {args.input} is "
                         f"{picture.size[0]}x{picture.size[1]}; the mask must be the same size")
    missing = torch.from_numpy(mask.rgb.mean(axis=2) > 0.5)  # white = missing
    denoise = model_denoiser(Models(denoise=args.model).get("denoise"))
    with _progress_bar(args, args.steps, "inpaint") as bar:
        rgb = inpaint_image(torch.from_numpy(picture.rgb).permute(2, 0, 1), missing, denoise, args.steps, bar.update)
    write_image(args.output, dataclasses.replace(picture, rgb=rgb.permute(1, 2, 0).numpy()))
    return 0


def _sense(args) -> int:
    import torch

    from .io import read_image
    from .measurements import measure

    if Path(args.output).suffix.lower() != ".npz":
        raise UsageError(f"{args.output}: the measurements are written as an .npz file")
    rgb = torch.from_numpy(read_image(args.input).rgb).permute(2, 0, 1)
    meas = measure(rgb, args.ratio, args.block, args.seed)
    meas.save(args.output)
    print(f"wrote {args.output}: {meas.values.numel()} measurements of a {meas.width}x{meas.height} photo "
          f"(ratio {meas.ratio:g}, blocks of {meas.block}, seed {meas.seed})")
    return 0


def _reconstruct(args) -> int:
    from .inverse import model_denoiser, reconstruct_image
    from .io import IMAGE_SUFFIXES, Picture, write_image
    from .measurements import load_measurements
    from .pipeline import Models

    if Path(args.output).suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"{args.output}: unsupported output format {Path(args.output).suffix!r}")
    meas = load_measurements(args.measurements)
    denoise = model_denoiser(Models(denoise=args.model).get("denoise"))
    with _progress_bar(args, args.steps, "reconstruct") as bar:
        rgb = reconstruct_image(meas, denoise, args.steps, bar.update)
    write_image(args.output, Picture(rgb=rgb.permute(1, 2, 0).numpy()))
    return 0


def _estimate_noise(args) -> int:
    import torch

    from .io import read_image
    from .noise_estimate import estimate_noise

    failed = 0
    for path in args.images:
        try:
            rgb = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1)
            print(f"{path}: sigma {estimate_noise(rgb):.1f}")
        except (ImageReadError, ValueError, OSError) as exc:
            if len(args.images) == 1:
                raise
            print(f"  failed: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _interpolate(args) -> int:
    from .checkpoint import interpolate_models, save_model

    model = interpolate_models(args.a, args.b, args.alpha)
    card = {"interpolated": {"a": str(args.a), "b": str(args.b), "alpha": args.alpha}}
    save_model(args.output, model, card=card)
    print(f"wrote {args.output} ({1 - args.alpha:g} x {args.a} + {args.alpha:g} x {args.b})")
    return 0


def _train(args) -> int:
    from .config import TrainConfig
    from .train import train

    last = train(TrainConfig.load(args.config), resume=args.resume, progress=not args.quiet)
    if last is not None:  # rank 0 (or a single process)
        print(f"last checkpoint: {last}")
    return 0


def _export(args) -> int:
    from .checkpoint import load_model, load_training, save_model

    state = load_training(args.checkpoint)
    card = {"trained_steps": state["step"], "train_config": json.loads(state["config"].to_json())}
    save_model(args.output, load_model(args.checkpoint), card=card, half=args.half)
    print(f"wrote {args.output} (EMA weights after {state['step']} steps)")
    return 0


def _eval(args) -> int:
    import torch
    from tqdm import tqdm

    from .api import load
    from .data import list_images
    from .evaluate import evaluate_images, format_table
    from .io import read_image

    scales = [parse_scale(s) for s in args.scales.split(",")]
    if any(not isinstance(s, float) or s < 1 for s in scales):
        raise UsageError("--scales must be numbers >= 1, comma separated")
    images = {p.name: torch.from_numpy(read_image(p).rgb).permute(2, 0, 1) for p in list_images([args.folder])}
    with tqdm(total=len(images) * len(scales), desc="eval", disable=args.quiet) as bar:
        result = evaluate_images(load(args.model), images, scales, progress=bar.update)
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _bench(args) -> int:
    from .api import BUNDLED_MODEL
    from .bench import format_report, run_bench

    result = run_bench(args.model or BUNDLED_MODEL, size=args.size, scale=args.scale, repeats=args.repeats,
                       compare_rrdb=not args.no_rrdb)
    print(format_report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _serve(args) -> int:
    from .serve import missing_packages

    missing = missing_packages()
    if missing:
        raise UsageError(f"the web page needs {', '.join(missing)}: pip install 'frannet[serve]'")
    from .serve.app import run

    if args.host not in ("127.0.0.1", "localhost"):
        print(f"frannet serve: listening on {args.host}: anyone who can reach it can use the page (no login)",
              file=sys.stderr)
    run(args.host, args.port, max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels,
        workers=args.workers, max_queue=args.max_queue)
    return 0


def _add_sampling_options(p: argparse.ArgumentParser) -> None:
    from .config import RESTORATORS
    from .restorators.iterative import Sampling

    g = p.add_argument_group("iterative restorators (need a --model trained for them)")
    g.add_argument("--restorator", choices=RESTORATORS,
                   help="single (one query per pixel), autoregressive (a walk) or diffusion (DDIM); default: the "
                        "model's own")
    g.add_argument("--steps", type=int, default=Sampling.steps,
                   help=f"model evaluations per pixel and sample (default {Sampling.steps})")
    g.add_argument("--eta", type=float, default=Sampling.eta,
                   help="diffusion: DDIM noise, 0 (deterministic) to 1 (with --steps at the schedule's length: DDPM)")
    g.add_argument("--seed", type=int, default=Sampling.seed, help="noise seed (the result does not depend on --tile)")
    g.add_argument("--samples", type=int, default=Sampling.samples, help="samples averaged (default 1)")
    g.add_argument("--uncertainty", metavar="PNG", help="write the samples' per-pixel std here as a heatmap")
    g.add_argument("--adaptive", type=float, default=Sampling.adaptive, metavar="SIGMA",
                   help=f"stop refining a {Sampling.adaptive_tile}-pixel tile once its estimate's update has a "
                        "noise std below SIGMA (0-255 scale; default 0: off)")
    g.add_argument("--steps-map", metavar="PNG", help="write the steps spent per output pixel here as a heatmap")


def _add_projected_denoising_options(p: argparse.ArgumentParser) -> None:
    from .inverse import DEFAULT_STEPS

    p.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS,
                   help=f"rounds of projected denoising (default {DEFAULT_STEPS})")
    p.add_argument("--model", help="denoising weights (.safetensors); the bundled model by default")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .api import DEFAULT_MAX_OUTPUT_PIXELS
    from .serve import DEFAULT_MAX_PIXELS as SERVE_MAX_PIXELS
    from .tiling import DEFAULT_MAX_MEMORY

    parser = argparse.ArgumentParser(prog="frannet", description="Image restoration at any output resolution.")
    sub = parser.add_subparsers(dest="command", required=True)

    restore_help = {
        "restore": ("upscale, denoise and/or colorize an image or a folder of images", "0", False),
        "denoise": ("remove noise (the level is estimated unless --noise is given)", "auto", False),
        "colorize": ("colour gray photos (and upscale or denoise them in the same pass)", "0", True),
    }
    for name, (text, noise_default, colorize) in restore_help.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("input", help="image file, folder, or quoted glob pattern such as 'photos/**/*.jpg'")
        p.add_argument("-o", "--output", required=True, help="output file (or folder, for a folder input)")
        p.add_argument("--scale", help="factor, e.g. 3.5, or SX,SY for different factors per axis")
        p.add_argument("--size", help="exact output size WIDTHxHEIGHT")
        p.add_argument("--noise", default=noise_default,
                       help=f"the denoising dial: the input's noise sigma on the 0-255 scale (0 to 75), or 'auto' "
                            f"to estimate it per image (default {noise_default})")
        if name == "restore":
            p.add_argument("--colorize", action="store_true", help="colour a gray photo")
        else:
            p.set_defaults(colorize=colorize)
        p.add_argument("--model", help="weights (.safetensors) for the main stage; the bundled model by default")
        p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_OUTPUT_PIXELS, help="largest output allowed")
        p.add_argument("--tile", type=_positive_int,
                       help="encoder tile side in input pixels (the result does not depend on it); default: the "
                            "largest that fits --max-memory")
        p.add_argument("--max-memory", type=_positive_int, default=DEFAULT_MAX_MEMORY >> 20, metavar="MB",
                       help=f"working memory to aim for (default {DEFAULT_MAX_MEMORY >> 20}); larger outputs are "
                            f"written to TIFF tile by tile, never held whole")
        p.add_argument("--progressive", action="store_true",
                       help="upscale in steps of at most x2 (x8 as x2 x2 x2) instead of one shot, which measured "
                            "better (see the README)")
        p.add_argument("--region", metavar="X0,Y0,X1,Y1",
                       help="render only this window of the output (its pixels; equal to the same crop of the "
                            "whole output), e.g. to look closely at a huge image without computing the rest")
        p.add_argument("--consistency", action="store_true",
                       help="project the upscaled output so that bicubic downscaling gives back the input exactly")
        p.add_argument("--quality", type=int, default=DEFAULT_QUALITY,
                       help=f"JPEG and WebP output quality, 1-100 (default {DEFAULT_QUALITY})")
        p.add_argument("--overwrite", action="store_true", help="allow the output to replace the input")
        p.add_argument("--skip-existing", action="store_true",
                       help="skip inputs whose output exists (always on under torchrun, so a rerun resumes)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        _add_sampling_options(p)
        p.set_defaults(func=_restore)

    p = sub.add_parser("inpaint", help="fill in the missing pixels of an image (white in the mask = missing)")
    p.add_argument("input", help="image file")
    p.add_argument("--mask", required=True,
                   help="image of the same size: white (above mid-gray) = missing, to fill; black = keep")
    p.add_argument("-o", "--output", required=True, help="output file")
    _add_projected_denoising_options(p)
    p.set_defaults(func=_inpaint)

    p = sub.add_parser("sense", help="take block compressed-sensing measurements of an image (.npz)")
    p.add_argument("input", help="image file")
    p.add_argument("--ratio", type=float, default=0.25, help="measurements per pixel, in (0, 1] (default 0.25)")
    p.add_argument("--block", type=_positive_int, default=32, help="block side in pixels (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random measurement matrix (default 0)")
    p.add_argument("-o", "--output", required=True, help="measurements file (.npz)")
    p.set_defaults(func=_sense)

    p = sub.add_parser("reconstruct", help="rebuild an image from measurements made by 'frannet sense'")
    p.add_argument("measurements", help=".npz file from 'frannet sense'")
    p.add_argument("-o", "--output", required=True, help="output image file")
    _add_projected_denoising_options(p)
    p.set_defaults(func=_reconstruct)

    p = sub.add_parser("estimate-noise", help="print the Gaussian noise sigma (0-255 scale) of images")
    p.add_argument("images", nargs="+")
    p.set_defaults(func=_estimate_noise)

    p = sub.add_parser("interpolate", help="blend two compatible models parameter by parameter (DNI)")
    p.add_argument("a", help="model at alpha = 0")
    p.add_argument("b", help="model at alpha = 1")
    p.add_argument("--alpha", type=float, required=True, help="weight of B, in [0, 1]")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_interpolate)

    p = sub.add_parser("train", help="train a model from a TOML config")
    p.add_argument("config")
    p.add_argument("--resume", help="checkpoint, folder of checkpoints, or 'auto' (out_dir's newest good one, "
                                    "else start fresh: use this under torchrun --max-restarts)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)

    p = sub.add_parser("export", help="turn a training checkpoint into a model file (its EMA weights)")
    p.add_argument("checkpoint")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.set_defaults(func=_export)

    p = sub.add_parser("eval", help="PSNR/SSIM on Y against bicubic and Lanczos on a folder of photos")
    p.add_argument("folder", help="folder of high-resolution photos")
    p.add_argument("--model", help="weights (.safetensors); the bundled model by default")
    p.add_argument("--scales", default="2,3,4,6,8", help="comma-separated factors")
    p.add_argument("--json", help="also write the full results here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_eval)

    p = sub.add_parser("bench", help="time x4 upscaling against Real-ESRGAN's RRDBNet")
    p.add_argument("--model", help="weights (.safetensors); the bundled model by default")
    p.add_argument("--size", type=int, default=512, help="input side in pixels")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--no-rrdb", action="store_true", help="time frannet only")
    p.add_argument("--json", help="also write the results here")
    p.set_defaults(func=_bench)

    p = sub.add_parser("serve", help="a local web page: upload, restore, compare before/after, download")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this computer only)")
    p.add_argument("--port", type=int, default=8000, help="default 8000")
    p.add_argument("--max-upload-mb", type=float, default=50, help="largest upload in MB (default 50)")
    p.add_argument("--max-pixels", type=int, default=SERVE_MAX_PIXELS,
                   help=f"largest input or output in pixels (default {SERVE_MAX_PIXELS:_})")
    p.add_argument("--workers", type=int, default=1, help="jobs restored at the same time (default 1)")
    p.add_argument("--max-queue", type=int, default=8, help="jobs that may wait for a worker (default 8)")
    p.set_defaults(func=_serve)
    return parser


def _one_line_warning(message, category, *_) -> None:
    kind = "note" if issubclass(category, ConversionWarning) else "warning"
    print(f"frannet: {kind}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():  # e.g. a file's conversion (CMYK to RGB): one line each
            warnings.simplefilter("always", ConversionWarning)
            warnings.showwarning = _one_line_warning
            return args.func(args)
    except (UsageError, ConfigError, CheckpointError, ImageReadError, FileNotFoundError, ValueError) as exc:
        print(f"frannet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("frannet: interrupted", file=sys.stderr)
        return 130
