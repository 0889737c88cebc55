"""benchmarks/restorators.py with tiny models: one table for the three restorators, early stopping
against uniform refinement, and a missing or wrong model named clearly."""

from __future__ import annotations

import pytest
from PIL import Image
from benchmark_module import held_out, load_benchmark
from tiny import tiny_model

from frannet import save_model

bench = load_benchmark("restorators.py", "restorators_benchmark")


@pytest.fixture
def setup(tmp_path, photo):
    folder = held_out(tmp_path, photo, a=lambda im: im, b=lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    files = {}
    for kind in ("single", "autoregressive", "diffusion"):
        files[kind] = tmp_path / f"{kind}.safetensors"
        save_model(files[kind], tiny_model(tunable=True, restorator=kind), task="upscale")
    return folder, files


def test_one_table_for_the_three_restorators(setup, tmp_path, capsys):
    folder, files = setup
    out = tmp_path / "result.json"
    result = bench.main([str(folder), "--single", str(files["single"]),
                         "--autoregressive", str(files["autoregressive"]), "--diffusion", str(files["diffusion"]),
                         "--crop", "8", "--samples", "2", "--steps", "1,2",
                         "--tol", "0.05,1e9", "--tol-steps", "2", "--adaptive", "4", "--adaptive-steps", "2",
                         "--consistency", "--json", str(out)])
    assert result["setup"]["temperature"] == {"autoregressive": 0.3, "diffusion": 1.0}  # each restorator's default
    rows = {(r["restorator"], r["steps"]): r for r in result["rows"]}
    assert list(rows) == [("bicubic", None), ("single", None), ("autoregressive", 1), ("autoregressive", 2),
                          ("diffusion", 1), ("diffusion", 2)]
    assert rows["bicubic", None]["evaluations"] == 0 and rows["single", None]["evaluations"] == 1
    for kind in ("autoregressive", "diffusion"):
        for k in (1, 2):
            r = rows[kind, k]
            assert r["evaluations"] == k and r["seconds_per_mp"] > 0 and -1 <= r["spearman"] <= 1
            assert 0 < r["ssim_single"] <= 1 and 0 < r["ssim_mean"] <= 1
            assert r["redown_on"] < 1e-5 < r["redown_off"]  # DDNM: the output downscales to the input
    early = {(r["restorator"], r.get("tol", r.get("adaptive"))): r for r in result["early_stopping"]}
    assert list(early) == [("autoregressive", 0.05), ("autoregressive", 1e9), ("diffusion", 4.0)]
    stopped = early["autoregressive", 1e9]  # every point stops after its first step
    assert stopped["evaluations"] == 1 and stopped["saving"] == 0.5
    assert stopped["uniform_psnr_mean"] == rows["autoregressive", 2]["psnr_mean"]
    assert 1 <= early["autoregressive", 0.05]["evaluations"] <= 2
    assert stopped["tol_levels"] == pytest.approx(1e9 * 255 / 4.0)
    assert out.exists() and "| single | – | 1.00 |" in capsys.readouterr().out


def test_against_uniform():
    uniform = {1: {"psnr_single": 30.0, "psnr_mean": 30.0, "evaluations": 1.0},
               2: {"psnr_single": 29.0, "psnr_mean": 30.23, "evaluations": 2.0},
               4: {"psnr_single": 28.0, "psnr_mean": 30.3, "evaluations": 4.0}}
    row = {"psnr_single": 29.5, "psnr_mean": 30.27, "evaluations": 3.0}
    got = bench.against_uniform(row, uniform, 4)
    assert got["equal_mean"] and not got["equal_single"] and got["saving"] == 0.25
    assert got["fewest_uniform_steps_as_good"] == 2  # 30.23 >= 30.27 - 0.05
    assert bench.against_uniform({**row, "psnr_mean": 31.0}, uniform, 4)["fewest_uniform_steps_as_good"] is None


def test_a_missing_or_wrong_model_is_named(setup, capsys):
    folder, files = setup
    with pytest.raises(SystemExit):
        bench.main([str(folder), "--single", str(files["single"]), "--autoregressive", str(files["diffusion"])])
    assert "is a diffusion model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main([str(folder), "--single", str(files["single"]),
                    "--autoregressive", str(folder / "absent.safetensors")])
    err = capsys.readouterr().err
    assert "--autoregressive:" in err and "no such file" in err
