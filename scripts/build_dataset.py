"""Rebuild frannet's training and validation images from installed package files alone.

    python scripts/build_dataset.py [--out data]

Sources (no network beyond the package registry):
  * photos inside installed packages: scikit-image, matplotlib, glymur (pip install
    'frannet[data]'), and three older wheels fetched with `pip download --no-deps` and read
    as zip files: scipy 1.11.4 (face.dat), imgaug 0.4.0 (quokka.jpg), scikit-learn
    (china.jpg, flower.jpg);
  * dead-leaves images generated with a fixed seed.
Photos listed in VALIDATION are held out of training.
"""

from __future__ import annotations

import argparse
import bz2
import importlib.util
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from frannet.dead_leaves import dead_leaves

VALIDATION = {"chelsea", "coffee", "grace_hopper", "quokka", "flower"}
MAX_SIDE = 1400          # larger photos are shrunk to this (antialiased)
DEAD_LEAVES = (60, 256)  # how many, and their side
WHEELS = {
    "scipy==1.11.4": {"face": "scipy/misc/face.dat"},
    "imgaug==0.4.0": {"quokka": "imgaug/quokka.jpg"},
    "scikit-learn": {"china": "sklearn/datasets/images/china.jpg", "flower": "sklearn/datasets/images/flower.jpg"},
}
SKIMAGE = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "ihc.png",
           "retina.jpg", "motorcycle_left.png", "motorcycle_right.png", "color.png",
           "camera.png", "brick.png", "grass.png", "gravel.png", "moon.png", "coins.png"]


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {name} is not installed: pip install 'frannet[data]'")
    return Path(list(spec.submodule_search_locations)[0])


def installed_photos():
    sk = package_dir("skimage") / "data"
    for name in SKIMAGE:
        yield Path(name).stem.replace("motorcycle_", "moto_"), Image.open(sk / name)
    yield "grace_hopper", Image.open(package_dir("matplotlib") / "mpl-data/sample_data/grace_hopper.jpg")
    glymur = package_dir("glymur") / "data"
    for name in ("nemo.jp2", "goodstuff.j2k"):
        yield Path(name).stem, Image.open(glymur / name)  # Pillow decodes JPEG 2000 itself


def wheel_photos(cache: Path):
    for requirement, members in WHEELS.items():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), requirement],
                       check=True)
        stem = requirement.split("==")[0].replace("-", "_").lower()
        wheel = next(p for p in cache.glob("*.whl") if p.name.lower().startswith(stem))
        with zipfile.ZipFile(wheel) as zf:
            for name, member in members.items():
                raw = zf.read(member)
                if member.endswith("face.dat"):  # bz2 of raw 768x1024x3 uint8
                    yield name, Image.fromarray(np.frombuffer(bz2.decompress(raw), np.uint8).reshape(768, 1024, 3))
                else:
                    yield name, Image.open(io.BytesIO(raw))


def shrink(img: Image.Image) -> Image.Image:
    img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    side = max(img.size)
    if side > MAX_SIDE:
        k = MAX_SIDE / side
        img = img.resize((round(img.width * k), round(img.height * k)), Image.BICUBIC)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data", help="output folder (train/ and val/ are made inside)")
    args = parser.parse_args()
    out = Path(args.out)
    for sub in ("train", "val"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as cache:
        photos = list(installed_photos()) + list(wheel_photos(Path(cache)))
        for name, img in photos:
            split = "val" if name in VALIDATION else "train"
            shrink(img).save(out / split / f"{name}.png")
            print(f"{split:5s} {name}")
    rng = np.random.default_rng(1234)
    count, side = DEAD_LEAVES
    for i in range(count):
        Image.fromarray(dead_leaves(side, rng)).save(out / "train" / f"dead_leaves_{i:03d}.png")
    print(f"train {count} dead-leaves images")


if __name__ == "__main__":
    main()
