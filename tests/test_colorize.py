"""Colorize takes gray photos: a colour one is refused unless forced; the diffusion restorator colours too."""

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from cli_run import luma_of, run_cli
from tiny import tiny_model

import frannet
from frannet.pipeline import ColourInput, Job, Models, plan_picture
from frannet.io import Picture, read_image


@pytest.fixture
def gray_photo(tmp_path, photo):
    path = tmp_path / "gray.png"
    Image.open(photo).convert("L").save(path)
    return path


def test_a_colour_photo_is_refused_in_one_line_unless_forced(capsys, tmp_path, photo, colorize_path):
    out = tmp_path / "out.png"
    code, _, err = run_cli(capsys, "colorize", photo, "-o", out, "--model", colorize_path)
    assert code == 2 and "photo.png is in colour" in err and "--force" in err and err.count("\n") == 1, err
    assert not out.exists()
    code, _, err = run_cli(capsys, "colorize", photo, "-o", out, "--model", colorize_path, "--force")
    assert code == 0, err
    colour = np.asarray(Image.open(photo))
    assert np.abs(luma_of(np.asarray(Image.open(out))) - luma_of(colour)).max() <= 1.0  # its luma, coloured
    code, _, err = run_cli(capsys, "restore", photo, "-o", out, "--scale", "2", "--force", "--overwrite")
    assert code == 2 and "goes with --colorize" in err


def test_nearly_equal_channels_count_as_gray(capsys, tmp_path, gray_photo, colorize_path):
    tinted = np.asarray(Image.open(gray_photo).convert("RGB")).astype(np.int16)
    tinted[..., 2] = np.clip(tinted[..., 2] + 4, 0, 255)  # a faint blue cast: 4 levels of 255
    path = tmp_path / "tinted.png"
    Image.fromarray(tinted.astype(np.uint8)).save(path)
    assert run_cli(capsys, "colorize", path, "-o", tmp_path / "out.png", "--model", colorize_path)[0] == 0
    tinted[..., 2] = np.clip(tinted[..., 2] + 1, 0, 255)  # 5 levels: a colour photo
    Image.fromarray(tinted.astype(np.uint8)).save(path)
    assert run_cli(capsys, "colorize", path, "-o", tmp_path / "out.png", "--model", colorize_path)[0] == 2


def test_a_batch_reports_and_skips_colour_files(capsys, tmp_path, photo, gray_photo, colorize_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    Image.open(photo).save(folder / "colour.png")
    Image.open(gray_photo).save(folder / "gray.png")
    code, stdout, err = run_cli(capsys, "colorize", folder, "-o", out, "--model", colorize_path)
    assert code == 1 and "restored 1 of 2 images" in stdout
    assert "colour.png is in colour" in err and sorted(p.name for p in out.iterdir()) == ["gray.png"]


def test_the_api_refuses_a_colour_image_unless_forced(photo, colorize_path):
    colour = np.asarray(Image.open(photo))
    with pytest.raises(ColourInput, match="force"):
        frannet.colorize(colour, model=colorize_path)
    forced = frannet.colorize(colour, model=colorize_path, force=True)
    assert forced.shape == colour.shape and np.abs(luma_of(forced) - luma_of(colour)).max() <= 1.0


def test_transparent_pixels_do_not_make_a_gray_picture_colour(tmp_path, gray_photo):
    rgba = np.asarray(Image.open(gray_photo).convert("RGBA")).copy()
    rgba[:10, :, 0], rgba[:10, :, 3] = 255, 0  # red, but hidden: a third of the rows
    path = tmp_path / "hidden.png"
    Image.fromarray(rgba).save(path)
    picture, job, models = read_image(path), Job(37, 40, colorize=True), Models(colorize=tiny_model(tunable=True))
    assert [stage.task for stage in plan_picture(picture, job, models)] == ["colorize"]
    picture.alpha = None  # the red rows shown
    with pytest.raises(ColourInput):
        plan_picture(picture, job, models)


def test_diffusion_colours_every_seed_with_the_luma_kept(capsys, tmp_path, gray_photo, color_diffusion_path):
    gray = np.asarray(Image.open(gray_photo), dtype=np.float64)
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}.png"
        code, _, err = run_cli(capsys, "colorize", gray_photo, "-o", out, "--model", color_diffusion_path,
                            "--restorator", "diffusion", "--seed", seed)  # its default steps
        assert code == 0, err
        outs.append(np.asarray(Image.open(out)))
        assert outs[-1].shape == (*gray.shape, 3) and np.abs(luma_of(outs[-1]) - gray).max() <= 1.0
    assert np.abs(outs[0].astype(int) - outs[1]).max() > 0  # one colouring per seed
    mean, heat = tmp_path / "mean.png", tmp_path / "std.png"
    code, _, err = run_cli(capsys, "colorize", gray_photo, "-o", mean, "--model", color_diffusion_path,
                        "--restorator", "diffusion", "--seed", "1", "--samples", "3", "--uncertainty", heat)
    assert code == 0 and heat.exists(), err
    assert np.abs(luma_of(np.asarray(Image.open(mean))) - gray).max() <= 1.0
    projected = frannet.colorize(np.asarray(Image.open(gray_photo)), model=color_diffusion_path,
                                 restorator="diffusion", steps=3, samples=2, consistency=True)  # DDNM: every step
    assert np.abs(luma_of(projected) - gray).max() <= 1.0


def test_each_writes_every_colouring_as_its_own_file(capsys, tmp_path, gray_photo, color_diffusion_path):
    gray = np.asarray(Image.open(gray_photo), dtype=np.float64)
    out = tmp_path / "out.png"
    args = ["colorize", gray_photo, "-o", out, "--model", color_diffusion_path, "--restorator", "diffusion",
            "--seed", "1", "--steps", "2", "--samples", "3", "--each"]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out"))
    assert names == ["out-1.png", "out-2.png", "out-3.png"]  # the samples, not their mean
    samples = [np.asarray(Image.open(tmp_path / n)) for n in names]
    assert all(np.abs(luma_of(s) - gray).max() <= 1.0 for s in samples)
    assert np.abs(samples[0].astype(int) - samples[2]).max() > 0
    one = tmp_path / "seed2.png"  # sample 2 is the one of seed 1 + 1
    assert run_cli(capsys, *args[:3], one, *args[4:9], "2", "--steps", "2")[0] == 0
    assert np.array_equal(np.asarray(Image.open(one)), samples[1])
    (tmp_path / "out-3.png").unlink()
    assert run_cli(capsys, *args, "--skip-existing")[0] == 0 and (tmp_path / "out-3.png").exists()


@pytest.mark.parametrize("extra", [["--samples", "1"], ["--samples", "2", "--uncertainty", "std.png"]])
def test_each_needs_samples_to_write(capsys, tmp_path, gray_photo, color_diffusion_path, extra):
    code, _, err = run_cli(capsys, "colorize", gray_photo, "-o", tmp_path / "out.png", "--model", color_diffusion_path,
                           "--restorator", "diffusion", "--each", *extra)
    assert code == 2 and "--each" in err and len(err.strip().splitlines()) == 1, err


def test_each_with_a_single_step_model_writes_nothing(capsys, tmp_path, gray_photo, colorize_path):
    code, _, err = run_cli(capsys, "colorize", gray_photo, "-o", tmp_path / "out.png", "--model", colorize_path,
                           "--samples", "2", "--each")
    assert code == 2 and not list(tmp_path.glob("out*")), err


def test_no_diffusion_colour_model_is_bundled_yet(capsys, tmp_path, gray_photo):
    code, _, err = run_cli(capsys, "colorize", gray_photo, "-o", tmp_path / "out.png", "--restorator", "diffusion")
    assert code == 2 and "no colorizing model for the diffusion restorator is bundled" in err, err


def test_the_diffusion_restorator_colours_with_its_own_model(color_diffusion_path, colorize_path):
    job = Job(37, 40, colorize=True, jpeg="off")
    diffusion = replace(job, restorator="diffusion")
    picture = Picture(rgb=np.zeros((40, 37, 3), np.float32))
    both = Models(colorize=colorize_path, colorize_diffusion=color_diffusion_path)  # a server offering both
    assert [(s.model, s.restorator) for s in plan_picture(picture, job, both)] == [("colorize", "single")]
    assert [(s.model, s.restorator) for s in plan_picture(picture, diffusion, both)] == [
        ("colorize_diffusion", "diffusion")]
    given = Models(colorize=color_diffusion_path)  # --model: the given colour model fills the diffusion slot
    assert given.describe("colorize_diffusion") == given.describe("colorize")
    assert plan_picture(picture, diffusion, given)[-1].restorator == "diffusion"


def test_colouring_a_gray_jpeg_at_its_size_keeps_its_luma_unless_a_quality_is_given(tmp_path, gray_photo, jpeg_path,
                                                                                      colorize_path):
    path = tmp_path / "gray.jpg"
    Image.open(gray_photo).save(path, quality=40)
    picture = read_image(path)
    models = Models(upscale=jpeg_path, colorize=colorize_path)
    h, w = picture.rgb.shape[:2]

    def tasks(job):
        return [(s.task, s.degradation.jpeg) for s in plan_picture(picture, job, models)]

    assert tasks(Job(w, h, colorize=True)) == [("colorize", None)]
    assert tasks(Job(w, h, colorize=True, jpeg=40)) == [("upscale", 40), ("colorize", None)]
    assert tasks(Job(2 * w, 2 * h, colorize=True)) == [("upscale", 40), ("colorize", None)]  # read from the tables
