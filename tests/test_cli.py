import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import frannet
from frannet.checkpoint import save_model
from frannet.cli import main
from tiny import tiny_model


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("flag,value,expected", [
    ("--scale", "2", (74, 80)), ("--scale", "2.5", (92, 100)), ("--scale", "3.7", (137, 148)),
    ("--scale", "2,3", (74, 120)), ("--size", "101x57", (101, 57)), ("--size", "37x40", (37, 40)),
])
def test_restore_gives_the_requested_size(capsys, tmp_path, photo, model_path, flag, value, expected):
    out = tmp_path / "out.png"
    code, _, err = _run(capsys, "restore", photo, "-o", out, flag, value, "--model", model_path)
    assert code == 0, err
    assert Image.open(out).size == expected


def test_restore_is_deterministic(capsys, tmp_path, photo, model_path):
    for name in ("a.png", "b.png"):
        assert _run(capsys, "restore", photo, "-o", tmp_path / name, "--scale", "3.3", "--model", model_path)[0] == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))


@pytest.mark.parametrize("args,message", [
    (["--scale", "0"], "scale"), (["--scale", "-2"], "scale"), (["--scale", "nan"], "scale"),
    (["--scale", "inf"], "scale"), (["--scale", "abc"], "scale"), (["--scale", "0.5"], "shrink"),
    (["--scale", "10000"], "megapixels"), (["--size", "10x"], "WIDTHxHEIGHT"), (["--size", "0x10"], "positive"),
    (["--size", "10x10"], "smaller than the input"), ([], "nothing to do"), (["--scale", "2", "--size", "80x80"], "not both"),
])
def test_bad_arguments_are_one_line_errors(capsys, tmp_path, photo, model_path, args, message):
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "o.png", "--model", model_path, *args)
    assert code == 2
    assert message in err and err.startswith("frannet: error:") and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_unreadable_inputs_are_one_line_errors(capsys, tmp_path, photo, model_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(photo.read_bytes()[:200])
    truncated_model = tmp_path / "cut.safetensors"
    truncated_model.write_bytes(model_path.read_bytes()[:300])
    cases = [(junk, model_path, "not a readable image"), (truncated, model_path, "truncated"),
             (tmp_path / "missing.png", model_path, "no such file"), (photo, truncated_model, "truncated or corrupt")]
    for src, model, message in cases:
        code, _, err = _run(capsys, "restore", src, "-o", tmp_path / "o.png", "--scale", "2", "--model", model)
        assert code == 2 and message in err and err.count("\n") == 1, err


def test_folder_run_keeps_going_past_a_bad_file(capsys, tmp_path, photo, model_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.open(photo).save(src / "a.png")
    Image.open(photo).convert("L").save(src / "sub" / "b.jpg")
    (src / "bad.png").write_bytes(b"junk")
    code, out, err = _run(capsys, "restore", src, "-o", tmp_path / "out", "--scale", "2", "--model", model_path)
    assert code == 1
    assert "restored 2 of 3" in out and "bad.png" in err
    assert Image.open(tmp_path / "out" / "a.png").size == (74, 80)
    assert Image.open(tmp_path / "out" / "sub" / "b.jpg").size == (74, 80)
    assert not (tmp_path / "out" / "bad.png").exists()


def test_never_overwrites_the_input_unless_asked(capsys, tmp_path, photo, model_path):
    before = photo.read_bytes()
    code, _, err = _run(capsys, "restore", photo, "-o", photo, "--scale", "2", "--model", model_path)
    assert code == 2 and "--overwrite" in err
    assert photo.read_bytes() == before
    assert _run(capsys, "restore", photo, "-o", photo, "--scale", "2", "--model", model_path, "--overwrite")[0] == 0
    assert Image.open(photo).size == (74, 80)


def test_eval_prints_a_table_and_writes_json(capsys, tmp_path, image_folder, model_path):
    report = tmp_path / "eval.json"
    code, out, err = _run(capsys, "eval", image_folder / "val", "--model", model_path, "--scales", "2,3",
                          "--json", report, "--quiet")
    assert code == 0, err
    assert "x2" in out and "x3" in out and "bicubic" in out
    result = json.loads(report.read_text())
    assert set(result["mean"]) == {"2.0", "3.0"}
    row = result["mean"]["2.0"]
    assert set(row) == {"model", "model+consistency", "bicubic", "lanczos"} and 10 < row["bicubic"]["psnr"] < 100
    assert 0 < row["model"]["ssim"] <= 1


def test_eval_runs_an_iterative_model_with_the_sampling_asked_for(capsys, tmp_path, image_folder, model_path):
    walk = tmp_path / "walk.safetensors"
    save_model(walk, tiny_model(restorator="autoregressive"))
    scores = []
    for steps, seed, temperature in ((1, 0, 0.3), (3, 0, 0.3), (3, 0, 0.3), (3, 5, 0.3), (3, 0, 1.0)):
        report = tmp_path / "eval.json"
        code, _, err = _run(capsys, "eval", image_folder / "val", "--model", walk, "--scales", "2", "--steps", steps,
                            "--seed", seed, "--temperature", temperature, "--json", report, "--quiet")
        assert code == 0, err
        scores.append(json.loads(report.read_text())["mean"]["2.0"]["model"]["psnr"])
    one_step, three, again, other_seed, hotter = scores
    assert three == again and len({one_step, three, other_seed, hotter}) == 4  # the steps, seed and temperature asked for
    for option in (("--steps", "2"), ("--temperature", "0.5")):
        code, _, err = _run(capsys, "eval", image_folder / "val", "--model", model_path, *option, "--quiet")
        assert code == 2 and "iterative restorator" in err


def test_train_command_reports_config_errors(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("stepz = 3\n")
    code, _, err = _run(capsys, "train", cfg)
    assert code == 2 and "unknown key" in err


def test_export_turns_a_checkpoint_into_a_model_file(capsys, tmp_path, image_folder):
    from frannet.checkpoint import describe, load_model, model_card
    from frannet.config import TrainConfig
    from frannet.train import train
    from tiny import TINY

    cfg = TrainConfig.from_dict({"model": dataclasses.asdict(TINY), "out_dir": str(tmp_path / "run"), "steps": 1,
                                 "batch": 1, "warmup": 1, "data": {"train": [str(image_folder / "train")], "val": [],
                                                                   "patch": 12, "target_points": 16}})
    ckpt = train(cfg, progress=False)
    out = tmp_path / "model.safetensors"
    code, _, err = _run(capsys, "export", ckpt, "-o", out, "--half")
    assert code == 0, err
    assert model_card(out)["trained_steps"] == 1
    assert load_model(out).cfg == TINY
    # the task is written into the file: derived from the training config (a checkpoint's is too)
    assert describe(out).declared and describe(out).task == describe(ckpt).task == "upscale"
    code, _, err = _run(capsys, "export", out, "-o", tmp_path / "again.safetensors")
    assert code == 2 and "cannot be resumed" in err
    code, _, err = _run(capsys, "export", ckpt, "-o", tmp_path / "d.safetensors", "--task", "denoise")
    assert code == 2 and "cannot denoise" in err and err.count("\n") == 1


def test_skip_existing_and_sharding(capsys, tmp_path, photo, model_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        Image.open(photo).save(src / f"{i}.png")
    out = tmp_path / "out"
    # rank 1 of 2 takes every second file
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, stdout, _ = _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", model_path, "--quiet")
    assert code == 0 and "rank 1/2: restored 2 of 2" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "3.png"]
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    code, stdout, _ = _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", model_path,
                           "--skip-existing", "--quiet")
    assert code == 0 and "restored 3 of 3" in stdout and "skipped 2" in stdout
    assert len(list(out.iterdir())) == 5


def test_consistency_makes_the_output_downscale_to_the_input(capsys, tmp_path, photo, model_path):
    import torch

    from frannet.degradations import bicubic_resize

    out = tmp_path / "c.png"
    code, _, err = _run(capsys, "restore", photo, "-o", out, "--scale", "3", "--model", model_path, "--consistency")
    assert code == 0, err
    lr = torch.from_numpy(np.asarray(Image.open(photo), dtype=np.float64) / 255).permute(2, 0, 1)
    sr = torch.from_numpy(np.asarray(Image.open(out), dtype=np.float64) / 255).permute(2, 0, 1)
    again = bicubic_resize(sr, tuple(lr.shape[-2:]))
    # 8-bit output rounding (and clipping) is all that separates them
    assert (again - lr).abs().mean() < 0.5 / 255


@pytest.mark.parametrize("args,message", [
    (["--scale", "2", "--ensemble", "3"], "error: --ensemble: must be 1, 2, 4 or 8"),
    (["--scale", "2", "--tile", "0"], "error: --tile: must be at least 64"),
    (["--scale", "2", "--tile", "16"], "--tile: must be at least 64"),
    (["--scale", "2,", "3"], "--scale: '2,' is followed by '3'"),
    (["--scale", "2", "--quality", "high"], "--quality: invalid int value"),
    (["--scale", "2", "--restorator", "magic"], "--restorator: invalid choice"),
    (["--scale", "2", "--stray"], "unrecognized arguments: --stray"),
    (["--scale", "10000"], "raise --max-pixels"),
])
def test_argument_errors_are_one_line_naming_the_option(capsys, tmp_path, photo, model_path, args, message):
    code, out, err = _run(capsys, "restore", photo, "-o", tmp_path / "o.png", "--model", model_path, *args)
    assert code == 2 and out == ""
    assert err.startswith("frannet: error: ") and message in err and err.count("\n") == 1, err


def test_missing_arguments_are_one_line(capsys):
    code, _, err = _run(capsys, "restore")
    assert code == 2 and err.startswith("frannet: error: the following arguments are required") and err.count("\n") == 1


def test_max_pixels_raises_pillows_input_limit_too(capsys, tmp_path, model_path, monkeypatch):
    """An input over Pillow's limit reads when --max-pixels allows it; one over --max-pixels is one line."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses inputs over twice this
    src = tmp_path / "big.png"
    Image.new("RGB", (60, 60), (200, 100, 50)).save(src)
    code, _, err = _run(capsys, "restore", src, "-o", tmp_path / "o.png", "--scale", "2", "--model", model_path)
    assert code == 0 and err == ""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    code, _, err = _run(capsys, "restore", src, "-o", tmp_path / "o.png", "--scale", "2", "--model", model_path,
                        "--max-pixels", 3000)
    assert code == 2 and err.count("\n") == 1 and "exceeds the limit of 3000 pixels (raise --max-pixels" in err


def test_api_refuses_tiles_below_the_minimum(model):
    image = np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(ValueError, match="tile must be at least 64"):
        frannet.upscale(image, scale=2, model=model, tile=16)
    assert frannet.upscale(image, scale=2, model=model, tile=64).shape == (40, 60, 3)


def _transparent_square(path):
    """A red square on fully transparent black: the input of every RGBA-to-JPEG test."""
    rgba = np.zeros((24, 24, 4), np.uint8)
    rgba[6:18, 6:18] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


@pytest.mark.parametrize("background,expected", [([], (255, 255, 255)), (["--background", "#00ff00"], (0, 255, 0)),
                                                 (["--background", "navy"], (0, 0, 128))])
def test_transparent_to_jpeg_is_composited_over_the_background(capsys, tmp_path, model_path, background, expected):
    src, out = _transparent_square(tmp_path / "square.png"), tmp_path / "square.jpg"
    code, _, err = _run(capsys, "restore", src, "-o", out, "--scale", "2", "--model", model_path, *background)
    assert code == 0
    assert err.startswith("frannet: note: square.jpg: JPG has no transparency") and err.count("\n") == 1, err
    result = np.asarray(Image.open(out).convert("RGB"), dtype=int)
    for corner in (result[:6, :6], result[-6:, -6:]):
        assert np.abs(corner - expected).max() <= 8  # JPEG's own error only
    assert result[20:28, 20:28, 0].min() > 150 and result[20:28, 20:28, 1:].max() < 100  # the square stays red


def test_a_bad_background_is_a_one_line_error(capsys, tmp_path, model_path):
    src = _transparent_square(tmp_path / "square.png")
    code, _, err = _run(capsys, "restore", src, "-o", tmp_path / "o.jpg", "--scale", "2", "--background", "greenish")
    assert code == 2 and err.startswith("frannet: error: --background: expected a colour") and err.count("\n") == 1


def test_progress_bar_draws_only_in_a_terminal(capsys):
    from frannet.cli.common import progress_bar

    with progress_bar(total=4, desc="steps", tty=True) as bar:
        bar.update(4)
    assert "steps: 100%" in capsys.readouterr().err
    with progress_bar(total=4, desc="steps", tty=False) as bar:
        bar.update(4)
    assert capsys.readouterr().err == ""


def test_one_image_shows_its_progress_in_a_terminal_only(capsys, tmp_path, photo, model_path, monkeypatch):
    from frannet.cli import common

    args = ("restore", photo, "-o", tmp_path / "o.png", "--scale", "2", "--model", model_path)
    assert _run(capsys, *args) == (0, "", "")  # pytest's captured stderr is no terminal, like a pipe
    monkeypatch.setattr(common, "stderr_is_terminal", lambda: True)
    code, _, err = _run(capsys, *args)
    assert code == 0 and "photo.png:" in err and "px" in err  # output pixels, 74 x 80 of them
    assert _run(capsys, *args, "--quiet") == (0, "", "")


def test_the_command_ends_at_once_with_its_code_and_all_it_printed(tmp_path, model_path):
    """``frannet`` (``cli.console``) skips the interpreter's teardown: what it printed, its exit
    code and its files must all be there all the same."""
    def run(*args):
        return subprocess.run([sys.executable, "-m", "frannet", *map(str, args)], capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)

    bad = run("restore", tmp_path / "missing.png", "-o", tmp_path / "out.png", "--scale", "2")
    assert bad.returncode == 2 and bad.stderr.startswith("frannet: error:"), bad.stderr
    described = run("describe", model_path)
    assert described.returncode == 0 and "upscale" in described.stdout
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((12, 10, 3), np.uint8)).save(src)
    done = run("restore", src, "-o", tmp_path / "out.png", "--scale", "2", "--model", model_path, "--quiet")
    assert done.returncode == 0 and Image.open(tmp_path / "out.png").size == (20, 24), done.stderr
