"""``frannet restore``, ``denoise`` and ``colorize``: files, folders or globs in, restored files out."""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

from ..config import ENGINES
from ..io import DEFAULT_QUALITY, IMAGE_SUFFIXES
from ..parsing import parse_colour, parse_jpeg, parse_noise, parse_region, parse_scale, parse_size
from .common import UsageError, ensemble_views, positive_int, progress_bar, tile_side

PRECISIONS = {"auto": None, "float32": False, "bfloat16": True}  # --precision -> Models(bf16=...)


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


def output_limit(dst: Path, given: int | None) -> int:
    """The most output pixels allowed: ``--max-pixels`` if given; else more for a TIFF, which is
    written band by band when it is large, than for a format that is written from a whole image."""
    from ..api import DEFAULT_MAX_OUTPUT_PIXELS
    from ..streaming import STREAMED_MAX_PIXELS, STREAMED_SUFFIXES

    if given is not None:
        return given
    return STREAMED_MAX_PIXELS if dst.suffix.lower() in STREAMED_SUFFIXES else DEFAULT_MAX_OUTPUT_PIXELS


def run(args) -> int:
    from ..distributed import process_share

    if args.scale is not None and args.size is not None:
        raise UsageError("give one of --scale or --size, not both")
    if args.aspect != "stretch" and args.size is None:
        raise UsageError(f"--{args.aspect} keeps the aspect inside an exact size: give --size too")
    if args.aspect == "fill" and args.region:
        raise UsageError("--fill cuts its own window of the output: give --fill or --region, not both")
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be between 1 and 100, got {args.quality}")
    if args.force and not args.colorize:
        raise UsageError("--force colours a colour photo's luma: it goes with --colorize")
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
        last = (lambda dst: each_name(dst, args.samples - 1)) if args.each else (lambda dst: dst)
        todo = [(src, dst) for src, dst in jobs if not last(dst).exists()]
        skipped, jobs = len(jobs) - len(todo), todo
    restorer = _Restorer(args, single_output=len(jobs) == 1 and not Path(args.input).is_dir())
    failures = []
    for src, dst in progress_bar(jobs, desc="restore", unit="img", quiet=len(jobs) < 2 or args.quiet):
        try:
            restorer.restore(src, dst)
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


class _Restorer:
    """One command's options, applied to each file in turn."""

    def __init__(self, args, single_output: bool):
        from ..pipeline import Models

        self.args = args
        self.noise = parse_noise(args.noise)
        self.jpeg = parse_jpeg(args.jpeg)
        if args.scale is None and args.size is None and self.noise == 0 and not args.colorize and \
                not isinstance(self.jpeg, int):
            raise UsageError("nothing to do: give --scale or --size to upscale, --noise to denoise, --colorize, "
                             "or --jpeg Q to remove JPEG artefacts")
        self.scale = parse_scale(args.scale) if args.scale else None
        self.size = parse_size(args.size) if args.size else None
        if self.scale is None and self.size is None:
            self.scale = 1.0
        self.region = parse_region(args.region) if args.region else None
        try:
            self.background = parse_colour(args.background)
        except ValueError as exc:
            raise UsageError(f"--background: {exc}") from None
        compute = dict(bf16=PRECISIONS[getattr(args, "precision", "auto")], engine=getattr(args, "engine", "torch"))
        try:
            self.models = Models(**compute) if args.model is None else self._routed(args.model, compute)
        except ImportError as exc:  # --engine ncnn without the ncnn package
            raise UsageError(f"--engine: {exc}") from None
        self.sampling = _sampling(args, single_output)
        self.noted = set()

    def _stages(self, reads_jpeg: bool = False) -> list[str]:
        """The tasks this command may run, in order (a picture whose noise is estimated at 0 skips
        denoising; one with nothing else to do goes through the upscaler at x1, and so does a JPEG
        without noise given, to remove its artefacts: for --jpeg auto, when the upscaler ``reads_jpeg``)."""
        removes_jpeg = self.noise in (None, 0) and (isinstance(self.jpeg, int) or self.jpeg == "auto" and reads_jpeg)
        upscales = self.size is not None or self.scale not in (1, (1, 1)) or removes_jpeg
        return [task for task, asked in (("denoise", self.noise != 0), ("upscale", upscales),
                                         ("colorize", self.args.colorize)) if asked]

    def _routed(self, path: str, compute: dict):
        """Models with ``path`` as the model of the stage whose task its file declares; a task this
        command has no stage for is a one-line error, before any picture is read."""
        from ..checkpoint import TASK_NOUNS, describe
        from ..pipeline import Models, article

        described = describe(path)
        task = described.task
        stages = self._stages(reads_jpeg="jpeg" in described.conditions)
        if task not in stages:
            how = {"upscale": "give --scale or --size to upscale", "denoise": "give --noise to denoise first",
                   "colorize": "give --colorize (or use frannet colorize)"}[task]
            raise UsageError(f"--model {path} is {article(TASK_NOUNS[task])} model, but this command has no {task} "
                             f"stage (it will {' then '.join(stages)}): {how}, or pass a model of one of its stages")
        return Models(**{task: path}, **compute)

    def note(self, kind: str, text: str) -> None:
        """A one-line note on stderr, once per run (above any progress bar)."""
        from tqdm import tqdm

        if kind not in self.noted:
            self.noted.add(kind)
            tqdm.write(f"frannet: note: {text}", file=sys.stderr)

    def output_shape(self, picture, src: Path, dst: Path):
        """(width, height) to restore the picture to and the window of it to keep (None: all)."""
        from ..api import output_size
        from ..framing import STRETCH_NOTED, aspect_change, framed

        size, window = (None, None) if self.size is None else framed(*picture.size, self.size, self.args.aspect)
        width, height = output_size(*picture.size, scale=self.scale, size=size,
                                    max_pixels=output_limit(dst, self.args.max_pixels), limit_name="--max-pixels")
        if self.size is not None and self.args.aspect == "stretch" and \
                aspect_change(*picture.size, self.size) > STRETCH_NOTED:
            (w, h), (box_w, box_h) = picture.size, self.size
            self.note("aspect", f"{src.name}: {w}x{h} stretched to {box_w}x{box_h} (aspect {w / h:.2f} to "
                                f"{box_w / box_h:.2f}); --fit or --fill keep the aspect")
        return width, height, window

    def restore(self, src: Path, dst: Path) -> None:
        from dataclasses import replace

        from ..api import DEFAULT_MAX_OUTPUT_PIXELS
        from ..io import keeps_alpha, read_image, write_image
        from ..memory import resident_bytes
        from ..pipeline import ColourInput, Job, plan_picture, restore_bands, restore_picture
        from ..streaming import needs_streaming, write_streamed_tiff

        args = self.args
        # The input is always held whole, so it keeps the in-memory limit even for a streamed output.
        picture = read_image(src, max_pixels=args.max_pixels or DEFAULT_MAX_OUTPUT_PIXELS, limit_name="--max-pixels")
        width, height, window = self.output_shape(picture, src, dst)
        job = Job(width, height, noise=self.noise, colorize=args.colorize, consistency=args.consistency,
                  tile=args.tile, max_memory=args.max_memory << 20, restorator=args.restorator,
                  sampling=self.sampling, region=self.region, progressive=args.progressive, ensemble=args.ensemble,
                  jpeg=self.jpeg, force=args.force)
        x0, y0, x1, y1 = job.window
        streamed = needs_streaming(x1 - x0, y1 - y0, job.max_memory - resident_bytes())  # written band by band
        if streamed and window and not (args.colorize or args.consistency):  # (which restore_bands refuses)
            # the restorator is then the single-step one, which renders windows itself
            job = replace(job, region=window)
            x0, y0, x1, y1 = window
        runs = [(job, dst)]
        if args.each:  # the samples themselves, one file each, not their mean; the whole job checked first
            plan_picture(picture, job, self.models)
            runs = [(replace(job, sampling=replace(job.sampling, samples=1, seed=job.sampling.seed + i)),
                     each_name(dst, i)) for i in range(job.sampling.samples)]
        with progress_bar(total=(x1 - x0) * (y1 - y0) * len(runs), desc=src.name, unit="px", quiet=args.quiet,
                          unit_scale=True, leave=False) as pixels:  # output pixels, as tiles and bands finish
            for job, dst in runs:
                try:
                    if streamed:
                        header, bands = restore_bands(picture, job, self.models, progress=pixels.update)
                        write_streamed_tiff(dst, header, x1 - x0, y1 - y0, bands, alpha=picture.alpha is not None)
                        return
                    result = restore_picture(picture, job, self.models, progress=pixels.update)
                except ColourInput:
                    raise UsageError(f"{src} is in colour, and colorize colours gray photos: --force colours its "
                                     f"luma, dropping its colour") from None
                if window:
                    result = result.crop(*window)
                if result.alpha is not None and not keeps_alpha(dst):
                    self.note("background", f"{dst.name}: {dst.suffix[1:].upper()} has no transparency: composited "
                                            f"over {args.background} (--background COLOR to change)")
                write_image(dst, result, quality=args.quality, background=self.background)
        if args.uncertainty:
            _write_uncertainty(args.uncertainty, result)
        if self.sampling.adaptive or args.steps_map:
            final = plan_picture(picture, job, self.models)[-1]  # the stage whose evaluations are counted
            _report_evaluations(args, result, self.sampling, self.models.get(final.model).cfg)


def each_name(dst: Path, index: int) -> Path:
    """Where ``--each`` writes sample ``index`` (from 0) of ``dst``: photo.png -> photo-1.png."""
    return dst.with_name(f"{dst.stem}-{index + 1}{dst.suffix}")


def _sampling(args, single_output: bool):
    """The iterative restorators' options from the command line."""
    from ..restorators import Sampling

    if args.uncertainty and not single_output:
        raise UsageError("--uncertainty writes one map: give a single input image")
    if args.uncertainty and args.samples < 2:
        raise UsageError("--uncertainty needs --samples 2 or more (the map is the std of the samples)")
    if args.each and (args.samples < 2 or args.uncertainty):
        raise UsageError("--each writes each of --samples N (2 or more) to its own file; --uncertainty maps the std of "
                         "samples taken together: use one or the other")
    if args.steps_map and not single_output:
        raise UsageError("--steps-map writes one map: give a single input image")
    return Sampling(steps=args.steps, eta=args.eta, seed=args.seed, samples=args.samples, adaptive=args.adaptive,
                    temperature=args.temperature)


def _write_uncertainty(path: str, result) -> None:
    from ..uncertainty import write_heatmap

    top = write_heatmap(path, result.std)
    print(f"uncertainty map: {path} (brightest = std {top * 255:.1f} on the 0-255 scale or more)")


def _report_evaluations(args, result, sampling, cfg) -> None:
    """Print the decoder evaluations against uniform steps; write the steps map if asked."""
    from ..restorators import transitions
    from ..uncertainty import write_heatmap

    if result.evaluations is None:
        raise UsageError("--adaptive and --steps-map need an iterative (autoregressive or diffusion) model")
    steps = result.evaluations / sampling.samples  # per sample: constant over each adaptive tile
    total, uniform = int(result.evaluations.sum()), transitions(cfg, sampling) * sampling.samples * steps.size
    if args.steps_map:
        top = write_heatmap(args.steps_map, steps)
        print(f"steps map: {args.steps_map} (brightest = {top:g} steps per pixel and sample or more)")
    if not args.quiet:
        print(f"decoder evaluations: {total:,} of {uniform:,} with uniform steps ({100 * total / uniform:.0f}%)")


def _add_sampling_options(p: argparse.ArgumentParser) -> None:
    from ..config import RESTORATORS
    from ..restorators import DEFAULT_ADAPTIVE, DEFAULT_STEPS, DEFAULT_TEMPERATURE, Sampling

    diffusion_steps, diffusion_adaptive = DEFAULT_STEPS["diffusion"], DEFAULT_ADAPTIVE["diffusion"]
    g = p.add_argument_group("iterative restorators (diffusion and autoregressive run the bundled frannet-diffusion "
                             "and frannet-autoregressive unless --model is given)")
    g.add_argument("--restorator", choices=RESTORATORS,
                   help="single (one query per pixel), autoregressive (a walk) or diffusion (DDIM); default: the "
                        "model's own")
    g.add_argument("--steps", type=positive_int,
                   help=f"model evaluations per pixel and sample; default: {diffusion_steps} for diffusion, with "
                        f"--adaptive {diffusion_adaptive:g} (the measured best with the bundled model: as good as "
                        f"uniform {diffusion_steps} steps with about a third fewer evaluations, and more steps are "
                        f"no better; see the README), {DEFAULT_STEPS['autoregressive']} for autoregressive")
    g.add_argument("--eta", type=float, default=Sampling.eta,
                   help="diffusion: DDIM noise, 0 (deterministic) to 1 (with --steps at the schedule's length: DDPM)")
    g.add_argument("--seed", type=int, default=Sampling.seed, help="noise seed (the result does not depend on --tile)")
    g.add_argument("--temperature", type=float, metavar="T",
                   help="the starting noise's std, 0 to 1: lower gives samples nearer the mean (higher PSNR, less "
                        f"invented detail); default: {DEFAULT_TEMPERATURE['autoregressive']:g} for autoregressive, "
                        f"{DEFAULT_TEMPERATURE['diffusion']:g} for diffusion")
    g.add_argument("--samples", type=positive_int, default=Sampling.samples, help="samples averaged (default 1)")
    g.add_argument("--each", action="store_true",
                   help="with --samples N: write the N samples themselves, OUTPUT-1 ... OUTPUT-N (seeds SEED ... "
                        "SEED+N-1), not their mean; for colorize, N different colourings")
    g.add_argument("--uncertainty", metavar="PNG", help="write the samples' per-pixel std here as a heatmap")
    g.add_argument("--adaptive", type=float, metavar="SIGMA",
                   help=f"stop refining a {Sampling.adaptive_tile}-pixel tile once its estimate's update has a "
                        f"noise std below SIGMA (0-255 scale; 0: off); default: {diffusion_adaptive:g} for diffusion "
                        "at its default --steps (not with --consistency), else 0")
    g.add_argument("--steps-map", metavar="PNG", help="write the steps spent per output pixel here as a heatmap")


def add_parsers(sub) -> None:
    from ..api import DEFAULT_MAX_OUTPUT_PIXELS
    from ..streaming import STREAMED_MAX_PIXELS
    from ..tiling import MIN_TILE
    from ..memory import DEFAULT_MAX_MEMORY

    restore_help = {
        "restore": ("upscale, denoise and/or colorize an image or a folder of images", "0", False),
        "denoise": ("remove noise (the level is estimated unless --noise is given)", "auto", False),
        "colorize": ("colour gray photos (and denoise or upscale them first)", "0", True),
    }
    for name, (text, noise_default, colorize) in restore_help.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("input", help="image file, folder, or quoted glob pattern such as 'photos/**/*.jpg'")
        p.add_argument("-o", "--output", required=True, help="output file (or folder, for a folder input)")
        p.add_argument("--scale", help="factor, e.g. 3.5, or SX,SY for different factors per axis")
        p.add_argument("--size", help="exact output size WIDTHxHEIGHT; of another aspect ratio, the picture is "
                                      "stretched (with a note) unless --fit or --fill")
        frame = p.add_mutually_exclusive_group()
        frame.add_argument("--fit", dest="aspect", action="store_const", const="fit", default="stretch",
                           help="with --size: the largest size inside it, the aspect kept")
        frame.add_argument("--fill", dest="aspect", action="store_const", const="fill",
                           help="with --size: cover it, the aspect kept, and cut out its centre")
        p.add_argument("--noise", default=noise_default,
                       help=f"the denoising dial: the input's noise sigma on the 0-255 scale (0 to 75), or 'auto' "
                            f"to estimate it per image (default {noise_default})")
        p.add_argument("--jpeg", default="auto", metavar="auto|off|Q",
                       help="the input's JPEG quality, told to an upscaling model that reads it (a JPEG-aware "
                            "--model, and the bundled frannet-sr), which then removes the artefacts, at "
                            "--scale 1 too: auto reads it from a JPEG's quantization tables, else estimates it from "
                            "the pixels of a picture saved from a JPEG, and tells a model that reads none nothing; "
                            "off ignores it; Q (1-100) tells that quality (default auto)")
        if name == "restore":
            p.add_argument("--colorize", action="store_true", help="colour a gray photo")
        else:
            p.set_defaults(colorize=colorize)
        if name == "denoise":
            p.set_defaults(force=False)
        else:
            p.add_argument("--force", action="store_true",
                           help="colorize a colour photo too: its luma is coloured, its own colour dropped (without "
                                "it, a photo whose channels differ by more than 4 levels of 255 at over 1%% of its "
                                "pixels is refused)")
        p.add_argument("--model", help="weights (.safetensors) for the stage of the task the file declares (frannet "
                                       "describe shows it): e.g. an upscaling model upscales after the bundled "
                                       "denoiser; the bundled models for the other stages")
        p.add_argument("--max-pixels", type=positive_int,
                       help=f"largest output allowed (default {DEFAULT_MAX_OUTPUT_PIXELS // 10**6} million pixels; "
                            f"{STREAMED_MAX_PIXELS // 10**6} million for a .tif, which is written band by band), and "
                            f"largest input (default {DEFAULT_MAX_OUTPUT_PIXELS // 10**6} million)")
        p.add_argument("--tile", type=tile_side,
                       help=f"encoder tile side in input pixels, at least {MIN_TILE} (each tile is encoded with a "
                            "margin of 55 to 93 pixels for the bundled models, so smaller tiles spend most of their "
                            "time on margins: x2 of a 300x200 photo takes 8 s in tiles of 64, 88 s in tiles of 16); "
                            "the result does not depend on it; default: the largest that fits --max-memory")
        p.add_argument("--max-memory", type=positive_int, default=DEFAULT_MAX_MEMORY >> 20, metavar="MB",
                       help=f"peak memory to aim for, models and input included (default {DEFAULT_MAX_MEMORY >> 20}); "
                            f"outputs too large for it are written to TIFF tile by tile, never held whole")
        p.add_argument("--progressive", action="store_true",
                       help="upscale in steps of at most x2 (x8 as x2 x2 x2) instead of one shot, which measured "
                            "better (see the README)")
        p.add_argument("--ensemble", type=ensemble_views, default=1, metavar="VIEWS",
                       help="restore the image and its mirror images, VIEWS in all (1, 2, 4 or 8), and average "
                            "them: VIEWS times slower, a little better (denoising at sigma 25: +0.05 dB at 2, "
                            "+0.09 at 4); default 1")
        p.add_argument("--region", metavar="X0,Y0,X1,Y1",
                       help="render only this window of the output (its pixels; equal to the same crop of the "
                            "whole output), e.g. to look closely at a huge image without computing the rest")
        p.add_argument("--consistency", action="store_true",
                       help="project the upscaled output so that bicubic downscaling gives back the input exactly; "
                            "for a JPEG the upscaler is told about, so that it gives back what the file stores "
                            "(its luma's quantized coefficients), not its artefacts")
        p.add_argument("--quality", type=int, default=DEFAULT_QUALITY,
                       help=f"JPEG and WebP output quality, 1-100 (default {DEFAULT_QUALITY})")
        p.add_argument("--background", default="white", metavar="COLOR",
                       help="what a transparent picture is composited over when the output format has no "
                            "transparency (JPEG): a name or hex code such as white or #ff8800 (default white)")
        p.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="auto (default): bfloat16 for the single-step models on CPUs that compute it natively "
                            "(AVX-512 bf16, AMX: 1.7x faster, PSNR within 0.003 dB on the held-out photos), else "
                            "float32; float32: the reference path everywhere")
        p.add_argument("--engine", choices=ENGINES, default="torch",
                       help="what runs the encoder: torch (default) or ncnn (pip install 'frannet[fast]'): its "
                            "Winograd convolutions in float32, within 1e-4 of torch, 1.3x faster at x4 and 1.6x "
                            "when denoising on CPUs without native bfloat16, for about twice the encoder's memory")
        p.add_argument("--overwrite", action="store_true", help="allow the output to replace the input")
        p.add_argument("--skip-existing", action="store_true",
                       help="skip inputs whose output exists (always on under torchrun, so a rerun resumes)")
        p.add_argument("--quiet", action="store_true", help="no progress bar (there is none either when stderr is "
                                                            "not a terminal)")
        _add_sampling_options(p)
        p.set_defaults(func=run)
