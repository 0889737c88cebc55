"""JPEG quality: read exactly from the tables, estimated from decoded pixels, and the command that prints it."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from frannet.cli import main
from frannet.jpeg_quality import ijg_table, jpeg_quality, quality_from_pixels, quality_from_tables
from test_corpus import jpeg, photo_like


def test_ijg_scaling_matches_libjpeg_at_its_anchor_points():
    assert ijg_table(50)[:8].tolist() == [16, 11, 10, 16, 24, 40, 51, 61]  # quality 50 is the base table
    assert (ijg_table(100) == 1).all()
    assert ijg_table(10).max() == 255  # clipped for baseline


@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0
def test_quality_is_read_exactly_from_the_tables(subsampling):
    img = photo_like(3, 64)
    for quality in range(10, 96):
        assert quality_from_tables(jpeg(img, quality, subsampling=subsampling)) == quality


@pytest.mark.parametrize("quality", [10, 15, 30, 50, 75, 90, 95])
def test_quality_is_estimated_from_the_pixels_of_a_decoded_jpeg(quality):
    decoded = np.asarray(jpeg(photo_like(8, 128), quality).convert("RGB"))
    assert quality_from_pixels(decoded) == quality


def _gradient(width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    return Image.fromarray(np.round(np.stack([200 * x + 20, 150 * y + 50, 100 + 80 * x * y], -1)).astype(np.uint8))


NEVER_ON_THE_GRID = {  # pictures never compressed on the 8x8 grid they are read on
    "photo": lambda: photo_like(9, 128),
    "JPEG resized": lambda: jpeg(photo_like(9, 160), 40).convert("RGB").resize((128, 128), Image.BICUBIC),
    # smooth: their small coefficients are zero under any coarse table, which must not count as a fit
    "photo upscaled x2": lambda: photo_like(9, 128).resize((256, 256), Image.BICUBIC),
    "JPEG upscaled x2": lambda: jpeg(photo_like(9, 128), 75).convert("RGB").resize((256, 256), Image.BICUBIC),
    "blurred photo": lambda: photo_like(9, 128).filter(ImageFilter.GaussianBlur(3)),
    # a gradient repeats a few block patterns, whose coefficients can sit near a table's multiples
    "gradient": lambda: _gradient(256, 192),
}


@pytest.mark.parametrize("picture", NEVER_ON_THE_GRID)
def test_pixels_never_compressed_on_the_grid_show_no_quality(picture):
    assert quality_from_pixels(np.asarray(NEVER_ON_THE_GRID[picture]())) is None


@pytest.mark.parametrize("quality", [50, 75, 90])
def test_the_quality_of_a_document_is_found_though_its_text_clips(quality):
    rng = np.random.default_rng(0)
    page = Image.new("RGB", (256, 192), "white")
    for y in range(4, 180, 14):
        line = " ".join("".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(2, 9))) for _ in range(6))
        ImageDraw.Draw(page).text((4, y), line, fill="black")
    # ringing clipped at white shrinks some coefficients: a slightly finer table may fit as well
    assert abs(quality_from_pixels(np.asarray(jpeg(page, quality).convert("RGB"))) - quality) <= 2


def test_jpeg_quality_says_how_it_knows():
    img = photo_like(10, 96)
    assert jpeg_quality(jpeg(img, 60)) == (60, "tables")
    png = io.BytesIO()
    jpeg(img, 60).convert("RGB").save(png, "PNG")
    assert jpeg_quality(Image.open(png)) == (60, "pixels")
    assert jpeg_quality(img) == (None, "none")


def test_estimate_quality_command(tmp_path, capsys):
    img = photo_like(11, 96)
    img.save(tmp_path / "a.jpg", quality=70)
    jpeg(img, 35).convert("RGB").save(tmp_path / "b.png")
    img.save(tmp_path / "c.png")
    assert main(["estimate-quality", str(tmp_path / "a.jpg"), str(tmp_path / "b.png"), str(tmp_path / "c.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{tmp_path / 'a.jpg'}: quality 70 (read from the file's tables)",
                     f"{tmp_path / 'b.png'}: quality 35 (estimated from the pixels)",
                     f"{tmp_path / 'c.png'}: no JPEG compression found"]
