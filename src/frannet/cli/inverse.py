"""``frannet inpaint``, ``sense`` and ``reconstruct``: linear inverse problems solved with the
denoising model as the prior (``frannet.inverse``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import UsageError, positive_int, progress_bar


def _inpaint(args) -> int:
    import dataclasses

    import torch

    from ..inverse import inpaint_image, model_denoiser
    from ..io import read_image, write_image
    from ..pipeline import Models

    picture, mask = read_image(args.input), read_image(args.mask)
    if mask.size != picture.size:
        raise UsageError(f"{args.mask} is {mask.size[0]}x{mask.size[1]} but {args.input} is "
                         f"{picture.size[0]}x{picture.size[1]}; the mask must be the same size")
    missing = torch.from_numpy(mask.rgb.mean(axis=2) > 0.5)  # white = missing
    denoise = model_denoiser(Models(denoise=args.model, bf16=False).get("denoise"))  # bfloat16 unmeasured here
    with progress_bar(total=args.steps, desc="inpaint", quiet=args.quiet) as bar:
        rgb = inpaint_image(torch.from_numpy(picture.rgb).permute(2, 0, 1), missing, denoise, args.steps, bar.update)
    write_image(args.output, dataclasses.replace(picture, rgb=rgb.permute(1, 2, 0).numpy()))
    return 0


def _sense(args) -> int:
    import torch

    from ..io import read_image
    from ..measurements import measure

    if Path(args.output).suffix.lower() != ".npz":
        raise UsageError(f"{args.output}: the measurements are written as an .npz file")
    rgb = torch.from_numpy(read_image(args.input).rgb).permute(2, 0, 1)
    meas = measure(rgb, args.ratio, args.block, args.seed)
    meas.save(args.output)
    print(f"wrote {args.output}: {meas.values.numel()} measurements of a {meas.width}x{meas.height} photo "
          f"(ratio {meas.ratio:g}, blocks of {meas.block}, seed {meas.seed})")
    return 0


def _reconstruct(args) -> int:
    from ..inverse import model_denoiser, reconstruct_image
    from ..io import IMAGE_SUFFIXES, Picture, write_image
    from ..measurements import load_measurements
    from ..pipeline import Models

    if Path(args.output).suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"{args.output}: unsupported output format {Path(args.output).suffix!r}")
    meas = load_measurements(args.measurements)
    denoise = model_denoiser(Models(denoise=args.model, bf16=False).get("denoise"))  # bfloat16 unmeasured here
    with progress_bar(total=args.steps, desc="reconstruct", quiet=args.quiet) as bar:
        rgb = reconstruct_image(meas, denoise, args.steps, bar.update)
    write_image(args.output, Picture(rgb=rgb.permute(1, 2, 0).numpy()))
    return 0


def _add_projected_denoising_options(p: argparse.ArgumentParser) -> None:
    from ..inverse import DEFAULT_STEPS

    p.add_argument("--steps", type=positive_int, default=DEFAULT_STEPS,
                   help=f"rounds of projected denoising (default {DEFAULT_STEPS})")
    p.add_argument("--model", help="denoising weights (.safetensors); the bundled model by default")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_parsers(sub) -> None:
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
    p.add_argument("--block", type=positive_int, default=32, help="block side in pixels (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random measurement matrix (default 0)")
    p.add_argument("-o", "--output", required=True, help="measurements file (.npz)")
    p.set_defaults(func=_sense)

    p = sub.add_parser("reconstruct", help="rebuild an image from measurements made by 'frannet sense'")
    p.add_argument("measurements", help=".npz file from 'frannet sense'")
    p.add_argument("-o", "--output", required=True, help="output image file")
    _add_projected_denoising_options(p)
    p.set_defaults(func=_reconstruct)
