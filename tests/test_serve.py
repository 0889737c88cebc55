"""`frannet serve`'s app through Starlette's TestClient, with tiny random models."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from tiny import tiny_model

from frannet import save_model
from frannet.cli import main
from frannet import pipeline
from frannet.pipeline import Job, Models
from frannet.restorators import Sampling
from frannet.serve import app as serve_app
from frannet.serve.app import create_app
from frannet.serve.options import STEP_SECONDS_PER_MEGAPIXEL, job_from_form, restorators


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


def _submit(client: TestClient, data: bytes, name: str = "photo.png", **fields):
    fields = {"task": "upscale", "scale": "2", **fields}
    return client.post("/api/jobs", files={"image": (name, data, "image/png")}, data=fields)


def _finish(client: TestClient, job: dict, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s"
        time.sleep(0.02)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def _client(models: Models) -> TestClient:
    return TestClient(create_app(models=models, max_upload_mb=0.5, max_pixels=100_000))


@pytest.fixture
def diffusion_path(tmp_path):
    path = tmp_path / "tiny-diffusion.safetensors"
    save_model(path, tiny_model(restorator="diffusion"))
    return path


@pytest.fixture
def client(model_path, tunable_path, colorize_path, diffusion_path):
    models = Models(upscale=model_path, colorize=colorize_path, denoise=tunable_path, diffusion=diffusion_path)
    with _client(models) as client:
        yield client


def test_page_static_files_and_config(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    config = client.get("/api/config").json()
    assert config["max_upload_bytes"] == 500_000 and config["max_pixels"] == 100_000
    assert [r["id"] for r in config["restorators"]] == ["single", "diffusion"]  # the CLI's --restorator names
    assert config["restorators"][1]["tasks"] == ["upscale"]  # its colour model is single-step
    assert config["limits"] == {"steps": 100, "samples": 64}


def test_upload_run_poll_download(client):
    submitted = _submit(client, _png(37, 40), name="my photo.png", scale="2.5")
    assert submitted.status_code == 202, submitted.text
    job = _finish(client, submitted.json())
    assert job["status"] == "done", job
    assert (job["width"], job["height"], job["progress"]) == (92, 100, 1.0)
    result = client.get(job["result"])
    assert result.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(result.content)).size == (92, 100)
    assert Image.open(io.BytesIO(client.get(job["input"]).content)).size == (37, 40)
    assert job["filename"] == "my_photo-upscale-92x100.png"
    assert job["estimate_seconds"] is None and job["seconds"] > 0 and "uncertainty" not in job
    missing = client.get(f"/api/jobs/{job['id']}/uncertainty.png")
    assert missing.status_code == 404 and "no uncertainty map" in missing.json()["error"]


def test_diffusion_upscale_with_its_cost_and_uncertainty_map(client):
    submitted = _submit(client, _png(30, 20), scale="2", restorator="diffusion", steps="2", samples="3")
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["estimate_seconds"] == pytest.approx(60 * 40 / 1e6 * 2 * 3 * STEP_SECONDS_PER_MEGAPIXEL)
    job = _finish(client, submitted.json())
    assert job["status"] == "done", job
    assert job["seconds"] > 0
    result = Image.open(io.BytesIO(client.get(job["result"]).content))
    uncertainty = Image.open(io.BytesIO(client.get(job["uncertainty"]).content))
    assert result.size == uncertainty.size == (60, 40)
    assert np.ptp(np.asarray(uncertainty)) > 0  # the samples differ more at some pixels than at others


def test_one_diffusion_sample_has_no_uncertainty_map(client):
    job = _finish(client, _submit(client, _png(20, 20), restorator="diffusion", steps="1", samples="1").json())
    assert job["status"] == "done" and "uncertainty" not in job


def test_exact_size_and_all_at_once(client):
    job = _finish(client, _submit(client, _png(30, 20, "L"), task="all", resize="size", size="45x31",
                                  noise="10").json())
    assert job["status"] == "done", job
    assert Image.open(io.BytesIO(client.get(job["result"]).content)).size == (45, 31)


def test_a_jpegs_quality_reaches_the_upscaler(monkeypatch, jpeg_path, model_path):
    monkeypatch.setattr(pipeline, "quality_from_pixels", lambda rgb, scale=1.0: None)  # told only from the file's tables
    buffer = io.BytesIO()
    Image.open(io.BytesIO(_png(24, 16))).save(buffer, "JPEG", quality=63)
    with _client(Models(upscale=jpeg_path)) as client:
        results = {}
        for jpeg in ("auto", "63", "off"):
            job = _finish(client, _submit(client, buffer.getvalue(), "photo.jpg", jpeg=jpeg).json())
            assert job["status"] == "done", job["error"]
            results[jpeg] = np.asarray(Image.open(io.BytesIO(client.get(job["result"]).content)), dtype=int)
    assert np.array_equal(results["auto"], results["63"]) and np.abs(results["auto"] - results["off"]).max() > 2
    with _client(Models(upscale=model_path)) as client:  # an upscaler that reads no JPEG quality
        job = _finish(client, _submit(client, buffer.getvalue(), "photo.jpg", jpeg="63").json())
    assert job["status"] == "error" and "reads no JPEG condition, so it cannot be told quality 63" in job["error"]


def test_missing_model_is_a_job_error(model_path, tmp_path):
    with _client(Models(upscale=model_path, denoise=tmp_path / "missing.safetensors")) as client:
        job = _finish(client, _submit(client, _png(20, 20), task="denoise", noise="15").json())
    assert job["status"] == "error" and "missing.safetensors" in job["error"]


def test_too_large_upload_is_413(client):
    answer = _submit(client, b"\0" * 600_000)
    assert answer.status_code == 413
    assert "over the limit of 0.5 MB" in answer.json()["error"]


@pytest.mark.parametrize("data, message", [
    (b"this is not an image", "photo.png: not a readable image"),
    (_png(40, 40)[:200], "photo.png: corrupt or truncated image"),
    (_png(400, 300), "photo.png: 400x300 exceeds the limit of 100000 pixels"),
])
def test_bad_files_are_readable_errors(client, data, message):
    answer = _submit(client, data)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


@pytest.mark.parametrize("fields, message", [
    ({"scale": "abc"}, "scale expects a number"),
    ({"scale": "0"}, "scale must be one or two finite numbers > 0"),
    ({"scale": "nan"}, "scale must be one or two finite numbers > 0"),
    ({"scale": "0.5"}, "would shrink the image"),
    ({"scale": "100"}, "over the limit"),
    ({"resize": "size", "size": "big"}, "size expects WIDTHxHEIGHT"),
    ({"task": "denoise", "noise": "90"}, "noise must be 'auto' or a sigma between 0 and 75"),
    ({"task": "denoise", "noise": "0"}, "does nothing"),
    ({"task": "sharpen"}, "unknown task"),
    ({"restorator": "magic"}, "unknown restorator"),
    ({"restorator": "diffusion", "task": "denoise", "noise": "10"}, "can upscale only, not denoise"),
    ({"restorator": "diffusion", "steps": "0"}, "steps must be a whole number from 1 to 100"),
    ({"restorator": "diffusion", "samples": "65"}, "samples must be a whole number from 1 to 64"),
    ({"restorator": "diffusion", "samples": "two"}, "samples must be a whole number"),
    ({"restorator": "diffusion", "seed": "-1"}, "seed must be a whole number from 0 to 4294967295"),
    ({"task": "colorize", "restorator": "diffusion"}, "can upscale only, not colorize"),
    ({"jpeg": "best"}, "jpeg expects auto, off or a quality from 1 to 100, got 'best'"),
])
def test_bad_options_are_readable_errors(client, fields, message):
    answer = _submit(client, _png(20, 20), **fields)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_no_file_and_unknown_job(client):
    assert client.post("/api/jobs", data={"task": "upscale"}).json()["error"] == "choose an image file first"
    assert client.get("/api/jobs/nope").status_code == 404
    assert "no such job" in client.get("/api/jobs/nope/result.png").json()["error"]


@pytest.mark.parametrize("form, job", [
    ({"task": "upscale", "scale": "2"}, Job(20, 10)),
    ({"task": "upscale", "scale": "2,3"}, Job(20, 15)),
    ({"task": "denoise", "scale": "2", "noise": "25"}, Job(10, 5, noise=25.0)),
    ({"task": "denoise", "noise": "auto"}, Job(10, 5, noise=None)),
    ({"task": "colorize", "resize": "size", "size": "30x9", "noise": "25"}, Job(30, 9, colorize=True)),
    ({"task": "all", "scale": "3", "noise": "auto"}, Job(30, 15, noise=None, colorize=True)),
    ({"task": "upscale", "scale": "2", "steps": "3"}, Job(20, 10)),  # steps are for diffusion
    ({"task": "upscale", "scale": "2", "restorator": "diffusion", "steps": "3", "samples": "2", "seed": "7"},
     Job(20, 10, restorator="diffusion", sampling=Sampling(steps=3, samples=2, seed=7))),
    ({"task": "upscale", "scale": "2", "restorator": "diffusion", "steps": "", "samples": "1"},  # the page's default
     Job(20, 10, restorator="diffusion")),  # no steps given: the measured best for the model
    ({"task": "colorize", "scale": "1", "restorator": "diffusion", "samples": "1"},
     Job(10, 5, colorize=True, restorator="diffusion")),
    ({"task": "upscale", "scale": "2", "jpeg": "off"}, Job(20, 10, jpeg="off")),
    ({"task": "denoise", "noise": "auto", "jpeg": "40"}, Job(10, 5, noise=None, jpeg=40)),
])
def test_tasks_map_to_jobs(form, job, diffusion_path, color_diffusion_path):
    named = replace(job, restorator=job.restorator or "single")  # the page always names its restorator
    offered = restorators(Models(diffusion=diffusion_path, colorize_diffusion=color_diffusion_path))
    assert job_from_form(form, 10, 5, max_pixels=10_000, offered=offered) == named


def test_iterative_restorators_are_offered_for_the_tasks_they_have_a_model_for(model_path, diffusion_path,
                                                                               color_diffusion_path):
    bundled = restorators(Models())
    assert bundled["diffusion"]["tasks"] == ["upscale"]  # no diffusion colour model is bundled yet
    assert bundled["autoregressive"]["tasks"] == ["upscale"]
    assert restorators(Models(upscale=model_path)).keys() == {"single"}  # the given upscaler is single-step
    both = Models(diffusion=diffusion_path, colorize_diffusion=color_diffusion_path)
    assert restorators(both)["diffusion"]["tasks"] == ["upscale", "colorize"]
    walk = Models(upscale=model_path, autoregressive=diffusion_path)  # a diffusion model in the walk's slot
    assert "autoregressive" not in restorators(walk)


def test_diffusion_colours_a_gray_photo_one_colouring_per_seed(model_path, colorize_path, color_diffusion_path):
    gray = _png(24, 20, "L")
    luma = np.asarray(Image.open(io.BytesIO(gray)), dtype=np.float64)
    models = Models(upscale=model_path, colorize=colorize_path, colorize_diffusion=color_diffusion_path)
    results = []
    with _client(models) as client:
        assert client.get("/api/config").json()["max_seed"] == 2**32 - 1
        for seed in ("1", "1", "2"):
            job = _finish(client, _submit(client, gray, task="colorize", scale="1", restorator="diffusion",
                                          samples="1", seed=seed).json())
            assert job["status"] == "done", job
            results.append(np.asarray(Image.open(io.BytesIO(client.get(job["result"]).content)), dtype=np.float64))
        colour = _finish(client, _submit(client, _png(24, 20), task="colorize", scale="1").json())
    assert np.array_equal(results[0], results[1]) and np.abs(results[0] - results[2]).max() > 0
    assert all(np.abs(r @ [0.299, 0.587, 0.114] - luma).max() <= 1.0 for r in results)  # the luma kept
    assert colour["status"] == "error" and "the photo is in colour" in colour["error"]


def test_full_queue_is_refused(monkeypatch, model_path):
    release = threading.Event()

    def blocked(picture, job, models, progress):
        release.wait(10)
        return picture

    monkeypatch.setattr(serve_app, "restore_picture", blocked)
    with TestClient(create_app(models=Models(upscale=model_path), workers=1, max_queue=1)) as client:
        first = _submit(client, _png(8, 8)).json()
        while client.get(f"/api/jobs/{first['id']}").json()["status"] == "queued":
            time.sleep(0.01)
        second = _submit(client, _png(8, 8)).json()
        assert client.get(f"/api/jobs/{second['id']}").json()["position"] == 1
        full = _submit(client, _png(8, 8))
        assert full.status_code == 503 and "the queue is full" in full.json()["error"]
        release.set()
        assert _finish(client, first)["status"] == _finish(client, second)["status"] == "done"
        assert _submit(client, _png(8, 8)).status_code == 202


def test_serve_without_its_packages_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setattr("frannet.serve.missing_packages", lambda: ["uvicorn"])
    assert main(["serve"]) == 2
    assert "pip install 'frannet[serve]'" in capsys.readouterr().err


def test_serve_command_passes_its_options(monkeypatch):
    calls = []
    monkeypatch.setattr(serve_app, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    assert main(["serve", "--port", "8123", "--max-upload-mb", "5", "--workers", "2"]) == 0
    assert calls == [(("127.0.0.1", 8123), {"max_upload_mb": 5.0, "max_pixels": 25_000_000, "workers": 2,
                                             "max_queue": 8})]
