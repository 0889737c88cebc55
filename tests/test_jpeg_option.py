"""``--jpeg auto|off|Q`` (issue 19, item 4): the input's JPEG quality, read from a JPEG file's
tables (or estimated from the pixels of a picture saved from one) or given, told to an upscaler
that reads it, through every entry point: the pipeline, the command line, the API, the page.

The model is a tiny random one that reads the JPEG condition; what it is told is seen in the
condition rows its encoder receives (``_told``) or by comparing outputs with an explicit quality.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import tiny_model

import frannet
from frannet.cli import main
from frannet.dead_leaves import dead_leaves
from frannet.degradations import jpeg_level
from frannet.io import read_image, write_image
from frannet.jpeg_quality import quality_from_tables, table_quality
from frannet.noise_estimate import estimate_noise
from frannet import pipeline
from frannet.pipeline import Job, Models, plan_picture, restore_bands, restore_picture


@pytest.fixture
def jpeg_photo(tmp_path):
    """A 48x40 photo-like picture saved by Pillow at quality 63 (whole 8x8 blocks)."""
    path = tmp_path / "photo.jpg"
    Image.fromarray(dead_leaves(48, np.random.default_rng(3), r_min=2, max_discs=300)[:40]).save(path, quality=63)
    return path


@pytest.fixture
def tables_only(monkeypatch):
    """No quality is estimated from pixels: what is told can only come from the file's tables."""
    monkeypatch.setattr(pipeline, "quality_from_pixels", lambda rgb, scale=1.0: None)


def _told(model) -> list[float]:
    """The JPEG levels ``model``'s encoder is told from now on, one per call."""
    seen, encode = [], model.encode

    def spy(lr, condition, *args, **kwargs):
        seen.extend(condition[:, 4].tolist())
        return encode(lr, condition, *args, **kwargs)

    model.encode = spy
    return seen


def _read(path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=np.float32)


# reading the quality -------------------------------------------------------------------------------

def test_read_image_keeps_a_jpegs_tables_and_does_not_write_them(jpeg_photo, tmp_path, photo):
    picture = read_image(jpeg_photo)
    assert table_quality(picture.quantization) == 63
    assert read_image(photo).quantization is None  # a PNG has none
    write_image(tmp_path / "again.jpg", picture)  # at the writer's own quality, not the source's tables
    assert quality_from_tables(Image.open(tmp_path / "again.jpg")) == 95


@pytest.mark.parametrize("jpeg,quality", [("auto", 63), ("off", None), (40, 40)])
def test_the_upscaler_is_told_the_quality_of_the_files_tables_or_the_one_given(jpeg_photo, tables_only, jpeg,
                                                                               quality):
    picture, model = read_image(jpeg_photo), tiny_model(jpeg=True)
    told = _told(model)
    job = Job(96, 80, jpeg=jpeg)
    restore_picture(picture, job, Models(upscale=model))
    assert told and told == pytest.approx([jpeg_level(quality)] * len(told))
    stage, = plan_picture(picture, job, Models(upscale=model))
    assert stage.degradation.jpeg == quality and ("q63" in stage.label()) == (quality == 63)
    told.clear()
    _, bands = restore_bands(picture, job, Models(upscale=model))  # streamed output: the same condition
    list(bands)
    assert told and told == pytest.approx([jpeg_level(quality)] * len(told))


def test_auto_estimates_the_quality_of_a_picture_saved_from_a_jpeg_from_its_pixels(jpeg_photo, tmp_path, photo):
    saved = tmp_path / "saved.png"
    Image.open(jpeg_photo).save(saved)  # the tables are gone, the blocks are not
    models = Models(upscale=tiny_model(jpeg=True))
    assert [s.degradation.jpeg for s in plan_picture(read_image(saved), Job(96, 80), models)] == [63]
    never = read_image(photo)  # never compressed: no table fits, nothing is told
    assert [s.degradation.jpeg for s in plan_picture(never, Job(74, 80), models)] == [None]


@pytest.mark.parametrize("job", [Job(96, 80), Job(48, 40), Job(48, 40, noise=None), Job(48, 40, colorize=True, force=True),
                                 Job(96, 80, noise=10.0)])
def test_auto_with_an_upscaler_that_reads_no_jpeg_plans_as_before(jpeg_photo, job):
    picture = read_image(jpeg_photo)
    models = Models(upscale=tiny_model(), denoise=tiny_model(tunable=True), colorize=tiny_model(tunable=True))
    stages = plan_picture(picture, job, models)
    assert stages == plan_picture(picture, replace(job, jpeg="off"), models)
    assert all(s.degradation.jpeg is None for s in stages)


def test_a_jpeg_with_noise_given_is_denoised_then_upscaled_untold(jpeg_photo):
    models = Models(upscale=tiny_model(jpeg=True), denoise=tiny_model(tunable=True))
    stages = plan_picture(read_image(jpeg_photo), Job(96, 80, noise=10.0, jpeg=63), models)
    assert [(s.task, s.degradation.jpeg) for s in stages] == [("denoise", None), ("upscale", None)]


@pytest.mark.parametrize("sigma,denoised", [(1.5, False), (12.0, True)])
def test_on_a_told_jpeg_only_clear_noise_is_denoised_first(tmp_path, sigma, denoised):
    """Below JPEG_CLEAN an estimate on a JPEG is the photo's own faint noise: the JPEG-aware
    upscaler runs alone, told the quality; above it, the denoiser runs first."""
    rng = np.random.default_rng(5)
    clean = dead_leaves(96, rng, r_min=12, max_discs=40).astype(np.float64)
    path = tmp_path / "noisy.jpg"
    Image.fromarray(np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 255).round().astype(np.uint8)).save(
        path, quality=95)
    picture = read_image(path)
    estimate = estimate_noise(torch.from_numpy(picture.rgb).permute(2, 0, 1))
    assert pipeline.CLEAN < estimate and (estimate > pipeline.JPEG_CLEAN) == denoised  # the old floor would denoise both
    models = Models(upscale=tiny_model(jpeg=True), denoise=tiny_model(tunable=True))
    stages = plan_picture(picture, Job(192, 192, noise=None), models)
    assert [s.task for s in stages] == (["denoise", "upscale"] if denoised else ["upscale"])
    assert stages[-1].degradation.jpeg == (None if denoised else 95)


@pytest.mark.parametrize("jpeg", [0, 101, "high", True, 50.0, None])
def test_a_bad_jpeg_option_is_a_one_line_error(jpeg):
    with pytest.raises(ValueError, match="jpeg must be 'auto', 'off' or a quality from 1 to 100") as caught:
        Job(10, 10, jpeg=jpeg)
    assert "\n" not in str(caught.value)


# the command line ----------------------------------------------------------------------------------

def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("given", ["high", "0", "101", "7.5"])
def test_cli_refuses_a_bad_jpeg_option_in_one_line(capsys, tmp_path, jpeg_photo, given):
    code, _, err = _run(capsys, "restore", jpeg_photo, "-o", tmp_path / "o.png", "--scale", "2", "--jpeg", given)
    assert code == 2 and err == f"frannet: error: jpeg expects auto, off or a quality from 1 to 100, got {given!r}\n"


def test_cli_refuses_a_quality_the_upscaler_cannot_be_told(capsys, tmp_path, jpeg_photo, model_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "restore", jpeg_photo, "-o", out, "--scale", "2", "--jpeg", "50", "--model", model_path)
    assert code == 2 and err.count("\n") == 1 and not out.exists()
    assert "the upscale model reads no JPEG condition, so it cannot be told quality 50" in err
    # auto tells a model that reads none nothing: what --jpeg off does
    assert _run(capsys, "restore", jpeg_photo, "-o", tmp_path / "a.png", "--scale", "2", "--model", model_path)[0] == 0
    assert _run(capsys, "restore", jpeg_photo, "-o", tmp_path / "b.png", "--scale", "2", "--model", model_path,
                "--jpeg", "off")[0] == 0
    np.testing.assert_array_equal(_read(tmp_path / "a.png"), _read(tmp_path / "b.png"))


def test_cli_auto_reads_the_files_quality(capsys, tmp_path, jpeg_photo, jpeg_path, tables_only):
    for name, jpeg in (("auto", "auto"), ("given", "63"), ("off", "off")):
        code, _, err = _run(capsys, "restore", jpeg_photo, "-o", tmp_path / f"{name}.png", "--scale", "2",
                            "--model", jpeg_path, "--jpeg", jpeg)
        assert code == 0, err
    np.testing.assert_array_equal(_read(tmp_path / "auto.png"), _read(tmp_path / "given.png"))
    assert np.abs(_read(tmp_path / "auto.png") - _read(tmp_path / "off.png")).max() > 2


def test_cli_removes_jpeg_artefacts_at_scale_1(capsys, tmp_path, jpeg_photo, jpeg_path):
    # auto at --scale 1 with an upscaler that reads the quality; a quality given needs no --scale
    assert _run(capsys, "restore", jpeg_photo, "-o", tmp_path / "a.png", "--scale", "1", "--model", jpeg_path)[0] == 0
    assert _run(capsys, "restore", jpeg_photo, "-o", tmp_path / "b.png", "--jpeg", "63", "--model", jpeg_path)[0] == 0
    np.testing.assert_array_equal(_read(tmp_path / "a.png"), _read(tmp_path / "b.png"))
    assert _read(tmp_path / "a.png").shape == _read(jpeg_photo).shape
    assert np.abs(_read(tmp_path / "a.png") - _read(jpeg_photo)).max() > 2  # restored, not copied
    code, _, err = _run(capsys, "restore", jpeg_photo, "-o", tmp_path / "c.png")
    assert code == 2 and "nothing to do" in err and "--jpeg Q" in err


def test_cli_batch_goes_on_past_a_bad_file(capsys, tmp_path, jpeg_photo, jpeg_path):
    folder = tmp_path / "in"
    folder.mkdir()
    jpeg_photo.rename(folder / "good.jpg")
    (folder / "bad.jpg").write_bytes(b"not a jpeg")
    code, out, err = _run(capsys, "restore", folder, "-o", tmp_path / "out", "--scale", "2", "--model", jpeg_path)
    assert code == 1 and "restored 1 of 2" in out and "bad.jpg" in err
    assert (tmp_path / "out" / "good.jpg").exists()


# the Python API ------------------------------------------------------------------------------------

def test_api_reads_a_pil_jpegs_tables(jpeg_photo, jpeg_path, tables_only):
    image = Image.open(jpeg_photo)
    auto = np.asarray(frannet.upscale(image, scale=2, model=jpeg_path))
    np.testing.assert_array_equal(auto, np.asarray(frannet.upscale(image, scale=2, model=jpeg_path, jpeg=63)))
    assert np.abs(auto.astype(int) - np.asarray(frannet.upscale(image, scale=2, model=jpeg_path, jpeg="off"))).max() > 2
    # the same through restore, at scale 1: the artefacts removed alone
    models = Models(upscale=jpeg_path)
    np.testing.assert_array_equal(np.asarray(frannet.restore(image, models=models)),
                                  np.asarray(frannet.restore(image, models=models, jpeg=63)))
    with pytest.raises(ValueError, match="jpeg must be"):
        frannet.upscale(image, scale=2, model=jpeg_path, jpeg="best")
