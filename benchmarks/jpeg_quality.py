"""How well the JPEG quality is estimated from pixels alone (files without tables).

    python benchmarks/jpeg_quality.py data/val data/eval --json benchmarks/results/jpeg-quality.json

Each photo is saved by Pillow at qualities 10-95 (step 5, 4:2:0), decoded, and the quality is
estimated from the decoded pixels (``frannet.jpeg_quality.quality_from_pixels``). Photos whose
source was already a JPEG are reported apart: their pixels carry the earlier compression too.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    for path in list_images(args.folders):
        photo = Image.open(path).convert("RGB")
        source = quality_from_pixels(np.asarray(photo))  # an earlier compression still visible
        for quality in QUALITIES:
            buf = io.BytesIO()
            photo.save(buf, "JPEG", quality=quality)
            estimate = quality_from_pixels(np.asarray(Image.open(buf).convert("RGB")))
            rows.append({"photo": path.stem, "source": source, "quality": quality, "estimate": estimate})
    summary = {}
    for name, subset in (("clean sources", [r for r in rows if r["source"] is None]),
                         ("JPEG sources", [r for r in rows if r["source"] is not None])):
        found = [r for r in subset if r["estimate"] is not None]
        errors = np.array([abs(r["estimate"] - r["quality"]) for r in found])
        summary[name] = {"files": len(subset), "photos": len({r["photo"] for r in subset}),
                         "none found": len(subset) - len(found),
                         "exact": int((errors == 0).sum()), "within 2": int((errors <= 2).sum()),
                         "mean abs error": round(float(errors.mean()), 2) if len(errors) else None}
        print(f"{name}: {summary[name]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
