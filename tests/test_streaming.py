"""Outputs too large to hold: band-by-band restoration written as a tiled BigTIFF."""

import os

import numpy as np
import pytest
import tifffile
import torch
from tiny import tiny_model

from frannet import memory
from frannet.cli import main
from frannet.io import Picture, read_image, to_samples
from frannet.pipeline import Job, Models, restore_bands, restore_picture
from frannet.streaming import TIFF_TILE, needs_streaming, write_streamed_tiff
from frannet.tiling import auto_tile


def _picture(h, w, alpha=False, bits=8, seed=0):
    g = np.random.default_rng(seed)
    rgb = g.random((h, w, 3), dtype=np.float32)
    a = g.random((h, w), dtype=np.float32) if alpha else None
    return Picture(rgb, a, bits=bits)


@pytest.mark.parametrize("alpha,bits,size,noise", [(False, 8, (301, 263), 0.0), (True, 8, (301, 263), 0.0),
                                                  (True, 16, (301, 263), 0.0), (False, 8, (301, 263), 20.0),
                                                  (True, 8, (70, 45), 20.0)])
def test_streamed_tiff_equals_the_whole_output(tmp_path, alpha, bits, size, noise):
    models = Models(upscale=tiny_model(), denoise=tiny_model(tunable=True))
    picture = _picture(45, 70, alpha, bits)
    job = Job(width=size[0], height=size[1], tile=16, noise=noise)  # many bands, none aligned with the TIFF tiles
    whole = restore_picture(picture, job, models)
    header, bands = restore_bands(picture, job, models)
    write_streamed_tiff(tmp_path / "out.tif", header, *size, bands, alpha=alpha)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.is_bigtiff and tif.pages[0].is_tiled and tif.pages[0].tilewidth == TIFF_TILE
        written = tif.asarray()
    dtype = np.uint16 if bits == 16 else np.uint8
    expected = to_samples(whole.rgb, whole.alpha, False, dtype)
    assert written.shape == expected.shape and written.dtype == dtype
    assert np.abs(written.astype(int) - expected.astype(int)).max() <= 1  # float rounding at .5 only


@pytest.mark.parametrize("gray,alpha", [(False, False), (True, True)])
def test_band_samples_carry_the_pending_rows_and_convert_like_a_whole_image(gray, alpha):
    from frannet.streaming import CONVERTED_ROWS, _band_samples

    picture = _picture(2 * CONVERTED_ROWS + 7, 9, alpha)
    carried = _picture(5, 9, alpha, seed=1)
    pending = to_samples(carried.rgb, carried.alpha, gray)
    out = _band_samples(pending, picture.rgb, picture.alpha, gray, np.uint8)
    assert np.array_equal(out, np.concatenate([pending, to_samples(picture.rgb, picture.alpha, gray)]))


def test_bands_are_refused_for_whole_image_tasks():
    with pytest.raises(ValueError, match="consistency"):
        restore_bands(_picture(8, 8), Job(16, 16, consistency=True), Models(upscale=tiny_model()))


def test_cli_streams_a_large_output_to_tiff(tmp_path, capsys):
    src = tmp_path / "in.png"
    from PIL import Image
    Image.fromarray((_picture(40, 50).rgb * 255).astype(np.uint8)).save(src)
    model = tmp_path / "tiny.safetensors"
    from frannet.checkpoint import save_model
    save_model(model, tiny_model())
    out = tmp_path / "out.tif"
    # 1 MB of working memory cannot hold a 200x160 output whole (40 bytes a pixel): it streams
    assert needs_streaming(200, 160, 1 << 20)
    assert main(["restore", str(src), "-o", str(out), "--scale", "4", "--model", str(model),
                 "--max-memory", "1", "--quiet"]) == 0
    streamed = read_image(out).rgb
    assert main(["restore", str(src), "-o", str(tmp_path / "whole.png"), "--scale", "4", "--model", str(model),
                 "--quiet"]) == 0
    assert np.abs(streamed - read_image(tmp_path / "whole.png").rgb).max() <= 1 / 255 + 1e-6
    assert main(["restore", str(src), "-o", str(tmp_path / "big.png"), "--scale", "4", "--model", str(model),
                 "--max-memory", "1", "--quiet"]) != 0
    assert "only TIFF" in capsys.readouterr().err
    assert not (tmp_path / "big.png").exists()


def test_a_tiff_output_may_be_far_larger_than_one_held_whole(tmp_path, capsys, monkeypatch):
    from frannet import api, streaming
    from frannet.cli.restore import output_limit

    # The README's 4096^2 -> 16384^2 (268 MP) job is allowed to a .tif, refused to a .png.
    assert output_limit(tmp_path / "a.tif", None) >= 16384 ** 2 > output_limit(tmp_path / "a.png", None)
    assert output_limit(tmp_path / "a.tif", 1000) == output_limit(tmp_path / "a.png", 1000) == 1000
    # Through the CLI, with the two limits scaled down to a small image's size.
    monkeypatch.setattr(api, "DEFAULT_MAX_OUTPUT_PIXELS", 10_000)
    monkeypatch.setattr(streaming, "STREAMED_MAX_PIXELS", 100_000)
    src = tmp_path / "in.png"
    from PIL import Image
    Image.fromarray((_picture(40, 50).rgb * 255).astype(np.uint8)).save(src)
    model = tmp_path / "tiny.safetensors"
    from frannet.checkpoint import save_model
    save_model(model, tiny_model())
    args = ["restore", str(src), "--scale", "4", "--model", str(model), "--quiet"]  # 200 x 160 out
    assert main(args + ["-o", str(tmp_path / "out.png")]) != 0
    assert "over the limit" in capsys.readouterr().err and not (tmp_path / "out.png").exists()
    assert main(args + ["-o", str(tmp_path / "out.tif")]) == 0
    assert main(args + ["-o", str(tmp_path / "out2.tif"), "--scale", "8"]) != 0  # 128,000 pixels: over the TIFF limit
    assert "over the limit" in capsys.readouterr().err
    # The input is held whole whatever the output: it keeps the in-memory limit.
    Image.fromarray((_picture(120, 100).rgb * 255).astype(np.uint8)).save(src)
    assert main(["restore", str(src), "-o", str(tmp_path / "out3.tif"), "--scale", "1.5", "--model", str(model),
                 "--quiet"]) != 0
    assert "exceeds the limit of 10000" in capsys.readouterr().err


def test_working_memory_is_the_aim_less_what_is_resident(monkeypatch):
    monkeypatch.setattr(memory, "resident_bytes", lambda: 300 << 20)
    assert memory.working_memory(1 << 30) == (1 << 30) - (300 << 20)
    monkeypatch.setattr(memory, "resident_bytes", lambda: 2 << 30)  # already past the aim: tiles still progress
    assert memory.working_memory(1 << 30) == memory.MIN_WORKING_MEMORY


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="resident memory is read from Linux's /proc")
def test_resident_bytes_sees_an_allocation():
    before = memory.resident_bytes()
    block = torch.ones(50 << 20)  # 200 MB, touched
    assert memory.resident_bytes() - before >= 150 << 20
    del block


@pytest.mark.skipif(memory._MALLOC_TRIM is None or not os.path.exists("/proc/self/statm"),
                    reason="needs glibc's malloc_trim and Linux's /proc")
def test_freed_memory_goes_back_to_the_system():
    # 2000 blocks of 64 KB sit in glibc's heap (below its mmap threshold); freeing all but the
    # last leaves 125 MB of holes that glibc keeps until it is asked to trim.
    blocks = [np.ones(8 << 10) for _ in range(2000)]
    last = blocks.pop()
    del blocks
    held = memory.resident_bytes()
    memory.release_freed_memory()
    assert held - memory.resident_bytes() >= 80 << 20
    del last

def test_auto_tile_shrinks_with_the_budget_and_fits_it():
    from frannet.tiling import BAND_BYTES, encoder_bytes_per_pixel, receptive_margin, tile_alignment

    cfg = tiny_model().cfg
    tiles = [auto_tile(cfg, (4000, 3000), (16000, 12000), mb << 20) for mb in (64, 256, 1024, 4096)]
    assert tiles == sorted(tiles) and tiles[0] < tiles[-1]
    m = receptive_margin(cfg)
    for mb, tile in zip((64, 256, 1024, 4096), tiles):
        assert (tile + 2 * m + tile_alignment(cfg)) ** 2 * encoder_bytes_per_pixel(cfg) + tile * 4 * 12000 * BAND_BYTES <= mb << 20
    assert auto_tile(cfg, (50, 40), (50, 40)) >= 50  # a small image is one tile
    # A window never reaches past the image, so a short, wide image gets longer tiles
    assert auto_tile(cfg, (200, 4000), (200, 4000), 64 << 20) > auto_tile(cfg, (4000, 4000), (4000, 4000), 64 << 20)
    # ncnn's Winograd buffers take about twice torch's memory: smaller tiles in the same budget
    assert encoder_bytes_per_pixel(cfg, "ncnn") == 2 * encoder_bytes_per_pixel(cfg)
    assert auto_tile(cfg, (4000, 3000), (16000, 12000), 256 << 20, "ncnn") < tiles[1]


def test_tiled_render_uses_the_automatic_tile_without_changing_the_result(monkeypatch):
    monkeypatch.setattr(memory, "MIN_WORKING_MEMORY", 0)
    monkeypatch.setattr(memory, "resident_bytes", lambda: 0)
    models = Models(upscale=tiny_model())
    picture = _picture(33, 47)
    small = restore_picture(picture, Job(94, 66, max_memory=1 << 20), models).rgb
    large = restore_picture(picture, Job(94, 66), models).rgb
    assert np.abs(small - large).max() <= 1e-5


@pytest.mark.parametrize("alpha,size,noise", [(False, (97, 80), 0.0), (True, (97, 80), 0.0), (False, (97, 80), 20.0),
                                              (True, (40, 31), 20.0)])
def test_region_equals_the_crop_of_the_whole_output(alpha, size, noise):
    models = Models(upscale=tiny_model(), denoise=tiny_model(tunable=True))
    picture = _picture(31, 40, alpha)
    region = (13, 7, min(61, size[0]), min(77, size[1]))
    x0, y0, x1, y1 = region
    whole = restore_picture(picture, Job(*size, noise=noise), models)
    window = restore_picture(picture, Job(*size, noise=noise, region=region), models)
    assert np.abs(window.rgb - whole.rgb[y0:y1, x0:x1]).max() <= 1e-6
    header, bands = restore_bands(picture, Job(*size, noise=noise, region=region, tile=16), models)
    streamed = [band for band in bands]
    assert np.abs(np.concatenate([rgb for rgb, _ in streamed]) - window.rgb).max() <= 1e-6
    if alpha:
        assert np.abs(window.alpha - whole.alpha[y0:y1, x0:x1]).max() <= 1e-6
        assert np.abs(np.concatenate([a for _, a in streamed]) - window.alpha).max() <= 1e-6


def test_region_through_the_cli(tmp_path, capsys):
    from PIL import Image

    from frannet.checkpoint import save_model

    src, model = tmp_path / "in.png", tmp_path / "tiny.safetensors"
    Image.fromarray((_picture(30, 40).rgb * 255).astype(np.uint8)).save(src)
    save_model(model, tiny_model())
    args = ["restore", str(src), "--scale", "2", "--model", str(model), "--quiet"]
    assert main(args + ["-o", str(tmp_path / "whole.png")]) == 0
    assert main(args + ["-o", str(tmp_path / "window.png"), "--region", "10,5,50,45"]) == 0
    whole, window = read_image(tmp_path / "whole.png").rgb, read_image(tmp_path / "window.png").rgb
    assert window.shape == (40, 40, 3) and np.array_equal(window, whole[5:45, 10:50])
    assert main(args + ["-o", str(tmp_path / "bad.png"), "--region", "10,5,90,45"]) != 0
    assert "not a window inside the 80x60 output" in capsys.readouterr().err
    assert main(args + ["-o", str(tmp_path / "bad.png"), "--region", "1,2,3"]) != 0
    assert "X0,Y0,X1,Y1" in capsys.readouterr().err


def test_progressive_sizes_take_steps_of_at_most_two():
    from frannet.pipeline import progressive_sizes

    assert progressive_sizes((10, 10), (80, 80)) == [(20, 20), (40, 40), (80, 80)]
    assert progressive_sizes((7, 9), (56, 13))[-1] == (56, 13)
    for a, b in zip([(7, 9)] + progressive_sizes((7, 9), (56, 13)), progressive_sizes((7, 9), (56, 13))):
        assert all(o <= 2 * i for i, o in zip(a, b))
    assert progressive_sizes((10, 10), (10, 10)) == [(10, 10)]


def test_progressive_upscaling_runs_its_stages(tmp_path):
    from PIL import Image

    from frannet.checkpoint import save_model

    src, model = tmp_path / "in.png", tmp_path / "tiny.safetensors"
    Image.fromarray((_picture(12, 10).rgb * 255).astype(np.uint8)).save(src)
    save_model(model, tiny_model())
    args = ["restore", str(src), "--scale", "8", "--model", str(model), "--quiet"]
    assert main(args + ["-o", str(tmp_path / "one.png")]) == 0
    assert main(args + ["-o", str(tmp_path / "steps.png"), "--progressive"]) == 0
    one, steps = read_image(tmp_path / "one.png").rgb, read_image(tmp_path / "steps.png").rgb
    assert one.shape == steps.shape == (96, 80, 3) and not np.array_equal(one, steps)


def test_api_region_is_the_crop_of_the_whole_result():
    import frannet

    img = (_picture(20, 24).rgb * 255).astype(np.uint8)
    model = tiny_model()
    whole = frannet.upscale(img, scale=2, model=model)
    assert np.array_equal(frannet.upscale(img, scale=2, model=model, region=(3, 4, 30, 33)), whole[4:33, 3:30])
