"""How well the JPEG quality is estimated from pixels alone (files without tables), and how often
pixels never compressed on the 8x8 grid are taken for a JPEG.

    python benchmarks/jpeg_quality.py data/val data/eval --json benchmarks/results/jpeg-quality.json

Positives: each photo is saved by Pillow at qualities 10-95 (step 5, 4:2:0), decoded, and the
quality is estimated from the decoded pixels (``frannet.jpeg_quality.quality_from_pixels``); a
decoded JPEG saved as PNG is the same pixels. Photos whose source was already a JPEG (as the
estimate on the photo itself says) are also reported apart: their pixels carry the earlier
compression too. The quality-75 JPEG cropped 3 pixels in and 5 down is off the grid the estimate
reads: None is acceptable there, and counted.

Negatives, which must give None (a "false positive" otherwise): each photo resized by Pillow's
bicubic x2, x0.5 and x1.5, and its quality-75 JPEG resized x2 (the grid is gone).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from frannet.data import list_images
from frannet.jpeg_quality import quality_from_pixels

QUALITIES = range(10, 96, 5)
OFF_GRID = "quality-75 JPEG cropped at (3, 5)"


def decoded_jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(buf).convert("RGB")


def resized(img: Image.Image, factor: float) -> Image.Image:
    return img.resize((round(img.width * factor), round(img.height * factor)), Image.BICUBIC)


NEGATIVES = {
    "bicubic x2": lambda photo: resized(photo, 2),
    "bicubic x0.5": lambda photo: resized(photo, 0.5),
    "bicubic x1.5": lambda photo: resized(photo, 1.5),
    "quality-75 JPEG, bicubic x2": lambda photo: resized(decoded_jpeg(photo, 75), 2),
}


def estimate(img: Image.Image) -> int | None:
    return quality_from_pixels(np.asarray(img))


def accuracy(rows: list[dict]) -> dict:
    found = [r for r in rows if r["estimate"] is not None]
    errors = np.array([abs(r["estimate"] - r["quality"]) for r in found])
    return {"files": len(rows), "photos": len({r["photo"] for r in rows}), "none found": len(rows) - len(found),
            "exact": int((errors == 0).sum()), "within 2": int((errors <= 2).sum()),
            "mean abs error": round(float(errors.mean()), 2) if len(errors) else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    for path in list_images(args.folders):
        photo = Image.open(path).convert("RGB")
        source = estimate(photo)  # an earlier compression still visible
        row = {"photo": path.stem, "source": source}
        rows += [{**row, "kind": "JPEG", "quality": q, "estimate": estimate(decoded_jpeg(photo, q))} for q in QUALITIES]
        off_grid = decoded_jpeg(photo, 75).crop((3, 5, photo.width, photo.height))
        rows.append({**row, "kind": OFF_GRID, "quality": 75, "estimate": estimate(off_grid)})
        rows += [{**row, "kind": kind, "quality": None, "estimate": estimate(make(photo))}
                 for kind, make in NEGATIVES.items()]
    jpegs = [r for r in rows if r["kind"] == "JPEG"]
    summary = {"all photos": accuracy(jpegs),
               "clean sources": accuracy([r for r in jpegs if r["source"] is None]),
               "JPEG sources": accuracy([r for r in jpegs if r["source"] is not None]),
               OFF_GRID: accuracy([r for r in rows if r["kind"] == OFF_GRID])}
    for kind in NEGATIVES:
        found = sorted(r["estimate"] for r in rows if r["kind"] == kind and r["estimate"] is not None)
        summary[kind] = {"files": sum(r["kind"] == kind for r in rows), "false positives": len(found), "estimates": found}
    for name, figures in summary.items():
        print(f"{name}: {figures}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
