"""The corpus's cleaning rules, its manifest, and the guard that keeps evaluation photos out of training."""

import csv
import importlib.util
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from frannet.corpus import (FULL_RES_QUALITY, NEAR_DUPLICATE_BITS, group_near_duplicates, hamming, looks_like_photo,
                            perceptual_hash)
from frannet.data import RESERVED, list_images
from frannet.dead_leaves import dead_leaves

MANIFEST = Path(__file__).parents[1] / "scripts" / "corpus_manifest.tsv"
_spec = importlib.util.spec_from_file_location("build_dataset", MANIFEST.with_name("build_dataset.py"))
build_dataset = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_dataset)


def photo_like(seed: int, side: int = 256) -> Image.Image:
    """Dead leaves, softened and given sensor-like noise: texture everywhere, nothing flat."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(dead_leaves(side, rng)).filter(ImageFilter.GaussianBlur(1.2))
    noisy = np.asarray(img, dtype=np.float64) + rng.normal(0, 3, (side, side, 3))
    return Image.fromarray(np.clip(noisy.round(), 0, 255).astype(np.uint8))


def jpeg(img: Image.Image, quality: int, **options) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **options)
    return Image.open(io.BytesIO(buf.getvalue()))


def test_hash_matches_a_resized_recompressed_copy_and_not_another_picture():
    a, b = photo_like(1), photo_like(2)
    copy = jpeg(a.resize((180, 180), Image.LANCZOS), 60)
    assert hamming(perceptual_hash(a), perceptual_hash(copy)) <= NEAR_DUPLICATE_BITS
    assert hamming(perceptual_hash(a), perceptual_hash(b)) > NEAR_DUPLICATE_BITS


def test_near_duplicates_join_the_first_close_group():
    assert group_near_duplicates([0b0, 0b1, 0xFFFF_FFFF, 0b11, 0xFFFF_FFFE]) == [0, 0, 2, 0, 2]


def test_photo_screen_keeps_textured_photos_and_drops_flat_pictures():
    assert looks_like_photo(photo_like(5))
    gradient = np.linspace(0, 255, 1024)[None, :, None].repeat(256, 0).repeat(3, 2)  # a quarter level a pixel
    assert not looks_like_photo(Image.fromarray(gradient.astype(np.uint8)))
    drawing = Image.new("RGB", (400, 300), (40, 90, 160))
    ImageDraw.Draw(drawing).ellipse((50, 40, 250, 240), fill=(240, 180, 30))  # a flat vector illustration
    assert not looks_like_photo(drawing)


def test_training_refuses_a_folder_reserved_for_evaluation(tmp_path):
    (tmp_path / "eval").mkdir()
    photo_like(7, 32).save(tmp_path / "eval" / "a.png")
    (tmp_path / "eval" / RESERVED).write_text("reserved")
    assert len(list_images([tmp_path / "eval"])) == 1  # evaluation may read it
    for folder in (tmp_path / "eval", tmp_path):
        with pytest.raises(ValueError, match="reserved for evaluation"):
            list_images([folder], training=True)


def test_manifest_keeps_opencv_photos_for_evaluation_only():
    with MANIFEST.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len({r["name"] for r in rows}) == len(rows)
    assert {r["split"] for r in rows} == {"train", "val", "corpus", "eval", "more"}
    for row in rows:
        assert (row["split"] == "eval") == row["source"].startswith("deb:opencv-doc="), row["name"]
        assert len(row["sha256"]) == 64 and row["licence"]
        if row["split"] in ("corpus", "more"):  # full resolution unless the file's own compression shows
            lossy = (row["quality"] != "" and int(row["quality"]) < FULL_RES_QUALITY) or row["member"].endswith(".webp")
            assert float(row["scale"]) == (0.5 if lossy else 1.0), row["name"]
        if row["crop"]:
            left, top, right, bottom = build_dataset.crop_box(row["crop"])
            assert right <= int(row["width"]) and bottom <= int(row["height"]), row["name"]


def test_manifest_more_split_keeps_pictures_a_training_crop_fits():
    with MANIFEST.open() as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["split"] == "more"]
    assert len(rows) >= 100 and len({r["sha256"] for r in rows}) == len(rows)
    for row in rows:
        box = build_dataset.crop_box(row["crop"]) or (0, 0, int(row["width"]), int(row["height"]))
        width, height = box[2] - box[0], box[3] - box[1]
        assert width * height >= 250_000, row["name"]
        assert min(width, height) * float(row["scale"]) >= 256, row["name"]


def qt_resource(files: dict[str, bytes], compressed: set[str]) -> bytes:
    """A version-2 Qt resource file holding ``files`` (flat names) in one folder ``res``."""
    names, data, offsets = b"", b"", {}
    for name in ["res", *files]:
        offsets[name] = len(names)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
    nodes = [struct.pack(">IHII", 0, 2, 1, 1) + bytes(8), struct.pack(">IHII", offsets["res"], 2, len(files), 2) + bytes(8)]
    for name, payload in files.items():
        if name in compressed:
            payload = struct.pack(">I", len(payload)) + zlib.compress(payload)
        nodes.append(struct.pack(">IHHHI", offsets[name], 1 if name in compressed else 0, 0, 0, len(data)) + bytes(8))
        data += struct.pack(">I", len(payload)) + payload
    head = 20
    return (b"qres" + struct.pack(">IIII", 2, head + len(data) + len(names), head, head + len(data))
            + data + names + b"".join(nodes))


def test_files_inside_a_qt_resource_are_read_by_member_path():
    blob = qt_resource({"a.webp": b"plain bytes", "b.txt": b"squeezed " * 50}, compressed={"b.txt"})
    assert dict(build_dataset.rcc_files(blob)) == {"/res/a.webp": b"plain bytes", "/res/b.txt": b"squeezed " * 50}
    files = [("/usr/x.rcc", blob), ("/usr/y.jpg", b"jpeg")]
    wanted = {"/usr/x.rcc!/res/b.txt", "/usr/y.jpg"}
    assert dict(build_dataset.nested_files(iter(files), wanted)) == {"/usr/x.rcc!/res/b.txt": b"squeezed " * 50,
                                                                     "/usr/y.jpg": b"jpeg"}
    with pytest.raises(ValueError):
        list(build_dataset.rcc_files(b"PK\x03\x04 not a resource file"))


def test_stored_crops_before_scaling():
    img = Image.new("RGBA", (100, 60), (0, 0, 0, 0))
    img.paste((200, 100, 50, 255), (10, 20, 90, 60))
    out = build_dataset.stored(img, 0.5, None, build_dataset.crop_box("10,20,90,60"))
    assert out.mode == "RGB" and out.size == (40, 20)
    assert np.all(np.asarray(out) == (200, 100, 50))
    assert build_dataset.crop_box("") is None
    with pytest.raises(ValueError):
        build_dataset.crop_box("50,0,10,20")


def test_no_committed_recipe_trains_on_evaluation_photos():
    from frannet.config import TrainConfig

    for path in (Path(__file__).parents[1] / "configs").glob("*.toml"):
        for folder in TrainConfig.load(path).data.train:
            assert folder in ("data/train", "data/corpus", "data/more"), f"{path.name} trains on {folder}"
