"""benchmarks/colorize.py with tiny models: the photos it measures, its per-photo figures and issue 20's bars."""

from __future__ import annotations

import numpy as np
import pytest
from benchmark_module import held_out, load_benchmark
from tiny import tiny_model

from frannet import save_model
from frannet.pipeline import Models

bench = load_benchmark("colorize.py", "colorize_benchmark")


@pytest.fixture
def folder(tmp_path, photo):
    return held_out(tmp_path, photo, small=lambda im: im, large=lambda im: im.resize((74, 80)),
                    gray=lambda im: im.convert("L"))


def test_gray_photos_are_skipped_and_large_ones_downscaled(folder):
    photos, skipped = bench.load_photos([folder], max_side=60)
    assert skipped == ["gray"] and sorted(photos) == ["large", "small"]
    assert photos["large"].shape == (3, 60, 56) and photos["small"].shape == (3, 40, 37)
    assert np.array_equal(np.round(photos["large"].numpy() * 255), photos["large"].numpy() * 255)  # 8-bit levels


def test_squash_resizes_every_photo_to_the_square_whatever_its_shape(folder):
    photos, skipped = bench.load_photos([folder], max_side=None, squash=32)
    assert skipped == ["gray"] and {tuple(p.shape) for p in photos.values()} == {(3, 32, 32)}
    for img in photos.values():
        assert img.min() >= 0 and img.max() <= 1
        assert np.array_equal(np.round(img.numpy() * 255), img.numpy() * 255)  # 8-bit levels, as a file holds


def test_per_photo_figures_of_both_restorators(folder, tmp_path):
    diffusion = tmp_path / "color-diffusion.safetensors"
    save_model(diffusion, tiny_model(tunable=True, restorator="diffusion"), task="colorize")
    photos, _ = bench.load_photos([folder], max_side=None)
    models = Models(colorize=tiny_model(tunable=True), colorize_diffusion=diffusion)
    single = bench.single_step(photos, models)
    sampled = bench.diffusion(photos, models, samples=3, steps=2, consistency=False, single=single)
    for name in photos:
        assert single[name]["gain"] == pytest.approx(single[name]["psnr"] - single[name]["psnr_gray"])
        assert single[name]["luma_error"] <= 0.5 + 1e-6  # the luma kept: only the 8-bit rounding moves it
        assert len(sampled[name]["colourfulness"]) == len(sampled[name]["psnr_samples"]) == 3
        assert len(set(sampled[name]["psnr_samples"])) == 3 and sampled[name]["luma_error"] <= 0.5 + 1e-6
    bars = bench.summary(single, sampled)["bars"]
    assert len(bars) == 7 and all(bar["met"] for name, bar in bars.items() if "luma" in name)


def test_the_bars():
    def row(gray, psnr, colour):
        return {"psnr_gray": gray, "psnr": psnr, "gain": psnr - gray, "luma_error": 0.5,
                "colourfulness_original": 40.0, "colourfulness": colour}

    single = {"a": row(20.0, 21.4, 25.0), "b": row(30.0, 29.6, 20.0)}
    sampled = {"a": {"colourfulness": [30.0, 34.0], "luma_error": 1.2, "psnr_samples": [19.0, 19.5], "psnr_mean": 21.0},
               "b": {"colourfulness": [32.0, 32.0], "luma_error": 0.4, "psnr_samples": [28.0, 28.5], "psnr_mean": 29.6}}
    summary = bench.summary(single, sampled)
    bars = {name.split(",")[0]: (bar["value"], bar["met"]) for name, bar in summary["bars"].items()}
    assert bars == {"single-step mean PSNR gain over the gray input": (0.5, True),
                    "single-step worst photo's gain": (-0.4, True),
                    "single-step largest luma error": (0.5, True),
                    "single-step colourfulness / originals' (>= 0.5)": (0.562, True),
                    "diffusion samples' colourfulness / originals' (>= 0.8)": (0.8, True),
                    "diffusion largest luma error over all samples": (1.2, False),
                    "diffusion mean of the samples' PSNR minus single-step PSNR": (-0.2, True)}
