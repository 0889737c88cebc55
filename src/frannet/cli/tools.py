"""The other commands: noise estimation, model blending, training, export, describing models, evaluation,
speed, the web page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..io import ImageReadError
from ..parsing import parse_scale
from .common import UsageError, positive_int, progress_bar


def _each_image(paths, line) -> int:
    """Print ``line(path)`` for each image; with several, a bad file is reported and the rest go on
    (exit code 1), while a single bad file is the command's one-line error."""
    failed = 0
    for path in paths:
        try:
            print(line(path))
        except (ImageReadError, ValueError, OSError) as exc:
            if len(paths) == 1:
                if isinstance(exc, ValueError):  # ImageReadError is one: already a one-line message
                    raise
                raise ImageReadError(f"{path}: not a readable image ({exc})") from None
            print(f"  failed: {path}: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _estimate_noise(args) -> int:
    import torch

    from ..io import read_image
    from ..noise_estimate import estimate_noise

    def line(path):
        return f"{path}: sigma {estimate_noise(torch.from_numpy(read_image(path).rgb).permute(2, 0, 1)):.1f}"

    return _each_image(args.images, line)


def _estimate_quality(args) -> int:
    from PIL import Image

    from ..jpeg_quality import jpeg_quality

    how = {"tables": "read from the file's tables", "pixels": "estimated from the pixels"}

    def line(path):
        with Image.open(path) as img:  # not read_image: the quantization tables are needed
            quality, source = jpeg_quality(img)
        return f"{path}: quality {quality} ({how[source]})" if quality else f"{path}: no JPEG compression found"

    return _each_image(args.images, line)


def _interpolate(args) -> int:
    from ..checkpoint import blend_descriptor, interpolate_models, save_model

    model = interpolate_models(args.a, args.b, args.alpha)  # one architecture and one task, or refused
    card = {"interpolated": {"a": str(args.a), "b": str(args.b), "alpha": args.alpha}}
    save_model(args.output, model, card=card, task=blend_descriptor(args.a, args.b))
    print(f"wrote {args.output} ({1 - args.alpha:g} x {args.a} + {args.alpha:g} x {args.b})")
    return 0


def _train(args) -> int:
    from ..config import TrainConfig
    from ..train import train

    last = train(TrainConfig.load(args.config), resume=args.resume, progress=not args.quiet)
    if last is not None:  # rank 0 (or a single process)
        print(f"last checkpoint: {last}")
    return 0


def _export(args) -> int:
    from ..checkpoint import load_model, load_training, save_model

    state = load_training(args.checkpoint)
    card = {"trained_steps": state["step"], "train_config": json.loads(state["config"].to_json())}
    described = save_model(args.output, load_model(args.checkpoint), card=card, half=args.half, task=args.task)
    print(f"wrote {args.output} (EMA weights after {state['step']} steps; {described.summary()})")
    return 0


def _describe(args) -> int:
    from ..checkpoint import describe
    from ..pipeline import BUNDLED

    bundled = {path.stem: path for path in BUNDLED.values()}
    paths = args.models or list(bundled)
    described = {str(p): describe(bundled.get(str(p), p)) for p in paths}  # a bundled model by name too
    if args.json:
        print(json.dumps({p: {**json.loads(d.to_json()), "declared": d.declared} for p, d in described.items()},
                         indent=2))
    else:
        for p, d in described.items():
            print(f"{p}: {d.summary()}")
    return 0


def _eval(args) -> int:
    import torch

    from ..api import load
    from ..data import list_images
    from ..evaluate import evaluate_images, format_table
    from ..io import read_image
    from ..restorators import VALIDATION, Sampling

    scales = [parse_scale(s) for s in args.scales.split(",")]
    if any(not isinstance(s, float) or s < 1 for s in scales):
        raise UsageError("--scales must be numbers >= 1, comma separated")
    model = load(args.model)
    sampling = Sampling(steps=args.steps or VALIDATION.steps, samples=args.samples, seed=args.seed,
                        temperature=args.temperature)
    if sampling != VALIDATION and not model.cfg.iterative:
        raise UsageError("--steps, --samples, --seed and --temperature are for a model of an iterative restorator")
    images = {p.name: torch.from_numpy(read_image(p).rgb).permute(2, 0, 1) for p in list_images([args.folder])}
    with progress_bar(total=len(images) * len(scales), desc="eval", quiet=args.quiet) as bar:
        result = evaluate_images(model, images, scales, progress=bar.update, sampling=sampling)
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _bench(args) -> int:
    from ..api import BUNDLED_MODEL
    from ..bench import format_report, run_bench

    result = run_bench(args.model or BUNDLED_MODEL, size=args.size, scale=args.scale, repeats=args.repeats,
                       compare_rrdb=not args.no_rrdb)
    print(format_report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _serve(args) -> int:
    from ..serve import missing_packages

    missing = missing_packages()
    if missing:
        raise UsageError(f"the web page needs {', '.join(missing)}: pip install 'frannet[serve]'")
    from ..serve.app import run

    if args.host not in ("127.0.0.1", "localhost"):
        print(f"frannet serve: listening on {args.host}: anyone who can reach it can use the page (no login)",
              file=sys.stderr)
    run(args.host, args.port, max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels,
        workers=args.workers, max_queue=args.max_queue)
    return 0


def add_parsers(sub) -> None:
    from ..checkpoint import TASKS
    from ..serve import DEFAULT_MAX_PIXELS as SERVE_MAX_PIXELS

    p = sub.add_parser("estimate-noise", help="print the Gaussian noise sigma (0-255 scale) of images")
    p.add_argument("images", nargs="+")
    p.set_defaults(func=_estimate_noise)

    p = sub.add_parser("estimate-quality", help="print the JPEG quality (1-100, libjpeg's scale) of images: read "
                                                "from a JPEG's tables, else estimated from the pixels")
    p.add_argument("images", nargs="+")
    p.set_defaults(func=_estimate_quality)

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
    p.add_argument("--task", choices=TASKS,
                   help="the task the model does, written into the file (default: from its training config: "
                        "gray inputs colorize, noise at scale 1 denoises, else it upscales)")
    p.set_defaults(func=_export)

    p = sub.add_parser("describe", help="what model files are: task, restorator, trained scales and noise, the "
                                        "conditions read (the stage --model goes to)")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="model files, checkpoints or bundled names (frannet-sr ...); default: the bundled models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_describe)

    p = sub.add_parser("eval", help="PSNR/SSIM on Y against bicubic and Lanczos on a folder of photos")
    p.add_argument("folder", help="folder of high-resolution photos")
    p.add_argument("--model", help="weights (.safetensors); the bundled model by default")
    p.add_argument("--scales", default="2,3,4,6,8", help="comma-separated factors")
    p.add_argument("--steps", type=positive_int,
                   help="an autoregressive or diffusion model's steps (default 4, what validation runs)")
    p.add_argument("--samples", type=positive_int, default=1, help="and its samples, averaged (default 1)")
    p.add_argument("--seed", type=int, default=0, help="and its noise seed")
    p.add_argument("--temperature", type=float, metavar="T",
                   help="and its starting noise's std, 0 to 1 (default: the restorator's, as frannet restore)")
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
