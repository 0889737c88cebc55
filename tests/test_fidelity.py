"""Real photos in, real files out: bit depth, colour profiles, EXIF, alpha, odd modes, batches."""

import threading
import time

import imagecodecs
import numpy as np
import pytest
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageOps
from tiny import tiny_model

from frannet import pipeline, save_model
from frannet.checkpoint import derive_descriptor
from frannet.cli import main
from frannet.io import UPRIGHT, read_image, write_image

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bicubic_path(tmp_path):
    """A tiny model whose residual head is zero: its output is plain bicubic."""
    path = tmp_path / "bicubic.safetensors"
    save_model(path, tiny_model(randomize_head=False))
    return path


def _ramp16(channels: int) -> np.ndarray:
    """A smooth (24, 32, channels) 16-bit ramp: most of its levels fall between 8-bit ones."""
    y, x = np.mgrid[0:24, 0:32]
    planes = [(x * 2000 + y * 37 + 900 * c) % 65536 for c in range(channels)]
    if channels in (2, 4):  # an opaque alpha, so colour is not rescaled
        planes[-1] = np.full_like(x, 65535)
    return np.stack(planes, axis=-1).astype(np.uint16)


def _levels(samples: np.ndarray) -> int:
    """Distinct values of the first channel."""
    return len(np.unique(samples if samples.ndim == 2 else samples[..., 0]))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_stays_16bit_with_its_profile(capsys, tmp_path, bicubic_path, channels):
    src = tmp_path / "deep.png"
    src.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(_ramp16(channels).squeeze(-1) if channels == 1
                                                                else _ramp16(channels))))
    # imagecodecs writes no iCCP chunk: go through frannet once to get a 16-bit PNG with a profile
    exif = Image.Exif()
    exif[0x010F] = "frannet-test"  # Make
    picture = read_image(src)
    assert picture.bits == 16 and picture.gray == (channels < 3) and (picture.alpha is not None) == (channels in (2, 4))
    icc = ICC if channels >= 3 else None  # (an RGB profile does not belong in a gray file)
    picture.info = {"exif": exif.tobytes()} | ({"icc_profile": icc} if icc else {})
    write_image(src, picture)
    out = tmp_path / "big.png"
    code, _, err = _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)
    assert code == 0, err
    samples = imagecodecs.png_decode(out.read_bytes())
    assert samples.dtype == np.uint16 and samples.shape[:2] == (48, 64)
    assert (samples.shape[2] if samples.ndim == 3 else 1) == channels
    assert _levels(samples) > 256
    with Image.open(out) as img:
        assert img.info.get("icc_profile") == icc
        assert img.getexif()[0x010F] == "frannet-test"


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_tiff_stays_16bit_with_its_profile(capsys, tmp_path, bicubic_path, channels):
    src = tmp_path / "deep.tif"
    ramp = _ramp16(channels)
    tifffile.imwrite(src, ramp.squeeze(-1) if channels == 1 else ramp, photometric="rgb" if channels > 1 else None,
                     extrasamples=("unassalpha",) if channels == 4 else None,
                     extratags=[(34675, "B", len(ICC), ICC, True)])
    out = tmp_path / "big.tiff"
    code, _, err = _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)
    assert code == 0, err
    with tifffile.TiffFile(out) as tif:
        samples = tif.pages[0].asarray()
        assert bytes(tif.pages[0].tags[34675].value) == ICC
    assert samples.dtype == np.uint16 and samples.shape[:2] == (48, 64)
    assert _levels(samples[..., None] if samples.ndim == 2 else samples) > 256


def test_16bit_source_to_jpeg_is_8bit(capsys, tmp_path, bicubic_path):
    src = tmp_path / "deep.png"
    src.write_bytes(imagecodecs.png_encode(_ramp16(3)))
    out = tmp_path / "big.jpg"
    assert _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)[0] == 0
    assert Image.open(out).mode == "RGB"


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_lower_quality_gives_a_smaller_file(capsys, tmp_path, photo, bicubic_path, suffix):
    sizes = {}
    for quality in (30, 95):
        out = tmp_path / f"q{quality}{suffix}"
        code, _, err = _run(capsys, "restore", photo, "-o", out, "--scale", "2", "--model", bicubic_path,
                            "--quality", quality)
        assert code == 0, err
        sizes[quality] = out.stat().st_size
    assert sizes[30] < sizes[95]


@pytest.mark.parametrize("quality", [0, 101])
def test_quality_out_of_range_is_an_error(capsys, tmp_path, photo, bicubic_path, quality):
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "o.jpg", "--scale", "2", "--model", bicubic_path,
                        "--quality", quality)
    assert code == 2 and "--quality" in err


def test_gray_png_stays_gray(capsys, tmp_path, photo, bicubic_path):
    src = tmp_path / "gray.png"
    Image.open(photo).convert("L").save(src)
    out = tmp_path / "big.png"
    assert _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)[0] == 0
    assert Image.open(out).mode == "L"


def test_palette_png_with_transparency_becomes_rgba(capsys, tmp_path, photo, bicubic_path):
    src = tmp_path / "palette.png"
    img = Image.open(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    img.save(src, transparency=0)
    out = tmp_path / "big.png"
    assert _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)[0] == 0
    result = Image.open(out)
    assert result.mode == "RGBA" and result.size == (74, 80)
    assert np.asarray(result)[..., 3].min() == 0 and np.asarray(result)[..., 3].max() == 255


@pytest.mark.parametrize("suffix,icc", [(".jpg", None), (".tif", None), (".jpg", ICC)])
def test_cmyk_is_converted_with_a_notice(capsys, tmp_path, photo, bicubic_path, suffix, icc):
    src = tmp_path / f"cmyk{suffix}"
    Image.open(photo).convert("CMYK").save(src, **({"icc_profile": icc} if icc else {}))
    out = tmp_path / "big.png"
    code, _, err = _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)
    assert code == 0, err
    assert err.count("\n") == 1 and "frannet: note:" in err and "CMYK converted" in err and str(src) in err
    result = Image.open(out)
    assert result.mode == "RGB" and "icc_profile" not in result.info  # an RGB (or sRGB) profile is not carried
    expected = np.asarray(Image.open(photo).resize((74, 80), Image.BICUBIC), dtype=np.float64)
    assert np.abs(np.asarray(result, dtype=np.float64) - expected).mean() < 12  # near the RGB original


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_icc_profile_and_exif_are_carried(capsys, tmp_path, photo, bicubic_path, suffix):
    src = tmp_path / "tagged.jpg"
    exif = Image.Exif()
    exif[0x010F] = "frannet-test"  # Make
    exif[0x0112] = 6              # Orientation: turned upright on reading
    Image.open(photo).save(src, icc_profile=ICC, exif=exif, quality=95)
    out = tmp_path / f"big{suffix}"
    assert _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)[0] == 0
    with Image.open(out) as result:
        assert result.info["icc_profile"] == ICC
        assert result.size == (80, 74)  # upright: the stored 37x40 turned a quarter, then x2
        carried = result.getexif()
        assert carried[0x010F] == "frannet-test" and carried[0x0112] == 1


def _upright() -> Image.Image:
    """A 24x16 picture with a red top-left quarter on blue: every turn or flip shows."""
    arr = np.zeros((16, 24, 3), np.uint8)
    arr[..., 2] = 255
    arr[:8, :12] = (255, 0, 0)
    return Image.fromarray(arr)


@pytest.mark.parametrize("orientation,stored", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)])
def test_exif_rotated_jpeg_comes_out_upright(capsys, tmp_path, bicubic_path, orientation, stored):
    src = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    _upright().transpose(stored).save(src, exif=exif, quality=95)
    assert ImageOps.exif_transpose(Image.open(src)).size == (24, 16)  # the file shows the upright picture
    out = tmp_path / "big.png"
    assert _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)[0] == 0
    result = np.asarray(Image.open(out), dtype=np.float64)
    assert result.shape == (32, 48, 3)
    assert result[2:14, 2:22, 0].mean() > 200 and result[2:14, 2:22, 2].mean() < 50   # red top-left
    assert result[18:30, 26:46, 0].mean() < 50 and result[18:30, 26:46, 2].mean() > 200  # blue bottom-right


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientations_turn_like_pillow(orientation):
    img = Image.fromarray(np.arange(6 * 4 * 3, dtype=np.uint8).reshape(4, 6, 3))
    exif = img.getexif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(img))
    assert np.array_equal(UPRIGHT.get(orientation, np.asarray)(np.asarray(img)), expected)


def test_alpha_edges_have_no_dark_halo(capsys, tmp_path, bicubic_path):
    """An opaque white disc on transparent black: its edge must stay white when upscaled."""
    y, x = np.mgrid[0:32, 0:32]
    alpha = ((x - 15.5) ** 2 + (y - 15.5) ** 2 < 10 ** 2).astype(np.float32)
    rgba = np.dstack([np.repeat(alpha[..., None], 3, axis=2), alpha])  # colour is black where transparent
    src = tmp_path / "disc.png"
    Image.fromarray((rgba * 255).astype(np.uint8), "RGBA").save(src)
    out = tmp_path / "big.png"
    assert _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path)[0] == 0
    result = np.asarray(Image.open(out), dtype=np.float64) / 255
    edge = (result[..., 3] > 0) & (result[..., 3] < 1)
    assert edge.sum() > 50

    def bicubic(a):
        return F.interpolate(torch.from_numpy(a)[None, None], size=(64, 64), mode="bicubic",
                             align_corners=False)[0, 0].numpy()

    premultiplied = bicubic(alpha * alpha) / np.maximum(bicubic(alpha), 1e-3)  # white * alpha, divided out
    straight = bicubic(alpha)  # the naive way: colour interpolated with the black around it
    assert result[edge, :3].mean() > np.clip(premultiplied[edge], 0, 1).mean() - 0.01 > 0.98
    assert np.clip(straight[edge], 0, 1).mean() < 0.8  # (what the test guards against)


def test_batch_gives_each_bad_file_its_own_message(capsys, tmp_path, photo, bicubic_path, monkeypatch):
    """Beyond test_cli's junk file: a truncated file and decompression bombs (over --max-pixels,
    and over Pillow's own limit) each fail on their own line while the good file is written."""
    src = tmp_path / "in"
    src.mkdir()
    Image.open(photo).save(src / "good.png")
    (src / "cut.png").write_bytes(photo.read_bytes()[:300])
    Image.new("RGB", (150, 150)).save(src / "big.png")    # over --max-pixels
    Image.new("L", (300, 300)).save(src / "bomb.png")     # over Pillow's limit, set below
    (src / "notes.jpg").write_text("not an image")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", bicubic_path,
                             "--max-pixels", 20_000, "--quiet")
    assert code == 1 and "restored 1 of 5" in stdout
    lines = err.splitlines()
    assert len(lines) == 4 and all(line.startswith("  failed: ") for line in lines)
    expected = {"cut.png": "truncated", "big.png": "exceeds the limit of 20000", "bomb.png": "too many pixels",
                "notes.jpg": "not a readable image"}
    for name, message in expected.items():
        assert sum(name in line and message in line for line in lines) == 1, (name, err)
    assert [p.name for p in out.iterdir()] == ["good.png"]


def test_glob_input_mirrors_paths_below_its_fixed_part(capsys, tmp_path, photo, bicubic_path, monkeypatch):
    for name in ("photos/top.jpg", "photos/a/x.jpg", "photos/b/c/y.jpg", "photos/a/skip.png", "other/z.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.open(photo).save(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    code, stdout, err = _run(capsys, "restore", "photos/**/*.jpg", "-o", "out", "--scale", "2",
                             "--model", bicubic_path, "--quiet")
    assert code == 0, err
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["a/x.jpg", "b/c/y.jpg", "top.jpg"] and "restored 3 of 3" in stdout
    code, _, err = _run(capsys, "restore", "photos/**/*.gif", "-o", "out", "--scale", "2")
    assert code == 2 and "no images match" in err


def test_models_load_each_model_once_across_threads(monkeypatch):
    calls = []

    def slow_load(path):
        calls.append(path)
        time.sleep(0.05)  # wide open for a second thread to load it again
        return tiny_model()

    monkeypatch.setattr(pipeline, "load_model", slow_load)
    monkeypatch.setattr(pipeline, "describe", lambda path: derive_descriptor(tiny_model().cfg))
    models = pipeline.Models(upscale="some.safetensors")
    got = []
    threads = [threading.Thread(target=lambda: got.append(models.get("upscale"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 6 and all(m is got[0] for m in got)


def test_16bit_picture_round_trips_through_png_chunks(tmp_path):
    """The iCCP and eXIf chunks spliced into imagecodecs' PNG leave a file libpng reads cleanly."""
    path = tmp_path / "p.png"
    path.write_bytes(imagecodecs.png_encode(_ramp16(3)))
    picture = read_image(path)
    picture.info = {"icc_profile": ICC}
    write_image(path, picture)
    again = read_image(path)
    assert again.bits == 16 and again.info["icc_profile"] == ICC
    assert np.array_equal(imagecodecs.png_decode(path.read_bytes()), _ramp16(3))
