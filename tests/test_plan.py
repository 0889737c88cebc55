"""The plan (issue 24, item 2), and ``--model`` going to the stage its file declares (item 3).

``plan`` is a pure function of the job, the input's degradation and the models' descriptors:
these tests give it descriptors only, no model file and no picture, and check the chain it
decides and every combination it refuses before anything runs; then that both ways of running
it run the same plan, and that a model goes to the stage of the task its file declares
(``tests/test_descriptors.py``: the descriptors themselves).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny import older_file, tiny_model

import frannet
from frannet import pipeline
from frannet.checkpoint import CheckpointError, ModelDescriptor
from frannet.cli import main
from frannet.degradations import Degradation
from frannet.io import Picture
from frannet.pipeline import Job, Models, Stage, plan, plan_picture, restore_bands, restore_picture
from frannet.restorators import Sampling

PLAIN = ("scale",)
TUNABLE = ("scale", "noise", "gray")


def _described(upscale="single", diffusion="diffusion", tunable=True) -> dict[str, ModelDescriptor]:
    """Slot -> descriptor, as the bundled models are (restorators and conditions can be changed);
    the diffusion restorator's colour slot holds the colour model, as when one is given."""
    colorize = ModelDescriptor("colorize", "single", (1, 4), (0, 50), TUNABLE if tunable else PLAIN)
    return {"upscale": ModelDescriptor("upscale", upscale, (1, 4), (0, 0), PLAIN),
            "diffusion": ModelDescriptor("upscale", diffusion, (2, 4), (0, 0), PLAIN),
            "autoregressive": ModelDescriptor("upscale", "autoregressive", (1, 4), (0, 0), PLAIN),
            "denoise": ModelDescriptor("denoise", "single", (1, 1), (0, 75), TUNABLE if tunable else PLAIN),
            "colorize": colorize, "colorize_diffusion": colorize}


def _told(in_size, job: Job, sigma=0.0, gray=None) -> Degradation:
    return Degradation(sigma=sigma, gray=job.colorize if gray is None else gray).for_sizes(in_size,
                                                                                        (job.height, job.width))


def test_the_chain_is_denoise_then_upscale_then_colorize():
    job = Job(60, 40, colorize=True, consistency=True)
    stages = plan(job, _told((20, 30), job, sigma=25.0), _described())
    assert [(s.task, s.model, s.in_size, s.out_size) for s in stages] == [
        ("denoise", "denoise", (20, 30), (20, 30)), ("upscale", "upscale", (20, 30), (40, 60)),
        ("colorize", "colorize", (40, 60), (40, 60))]
    # what each model is told: its own part of the degradation, at its own scale
    assert [s.degradation for s in stages] == [Degradation(sigma=25.0), Degradation(sx=2.0, sy=2.0),
                                               Degradation(gray=True)]
    assert [s.luma for s in stages] == [True, False, True]  # the luma is restored, then coloured
    assert [s.consistency for s in stages] == [False, True, True]
    assert [s.final for s in stages] == [False, False, True]
    assert all(s.restorator == "single" and s.sampling is None for s in stages)


@pytest.mark.parametrize("size,sigma,colorize,tasks", [
    ((30, 20), 25.0, False, ["denoise"]),             # denoising at the input size
    ((60, 40), 0.0, False, ["upscale"]),
    ((60, 40), 10.0, False, ["denoise", "upscale"]),
    ((30, 20), 0.0, True, ["colorize"]),
    ((30, 20), 5.0, True, ["denoise", "colorize"]),
    ((30, 20), 0.0, False, ["upscale"]),              # nothing asked: the upscaler at x1, as ever
])
def test_which_stages_run(size, sigma, colorize, tasks):
    job = Job(*size, colorize=colorize)
    assert [s.task for s in plan(job, _told((20, 30), job, sigma), _described())] == tasks


@pytest.mark.parametrize("restorator", ["diffusion", "autoregressive"])
def test_an_iterative_restorator_takes_its_own_upscaler_with_the_jobs_sampling(restorator):
    sampling = Sampling(steps=3, samples=2)
    job = Job(60, 40, restorator=restorator, sampling=sampling)
    denoise, upscale = plan(job, _told((20, 30), job, 25.0), _described())
    assert (denoise.model, denoise.restorator, denoise.sampling) == ("denoise", "single", None)
    assert (upscale.model, upscale.restorator, upscale.sampling) == (restorator, restorator, sampling)


def test_progressive_steps_and_the_region_belong_to_their_stage():
    job = Job(160, 80, progressive=True, region=(10, 20, 50, 60))
    denoise, upscale = plan(job, _told((10, 20), job, 25.0), _described())
    assert upscale.via == ((20, 40), (40, 80)) and upscale.region == (10, 20, 50, 60) and denoise.region is None
    assert "via 40x20 80x40" in upscale.label() and "region 10,20,50,60" in upscale.label()


@pytest.mark.parametrize("job,sigma,described,bands,message", [
    # the diffusion restorator with nothing to upscale: the noisy input is refused before denoising
    (Job(30, 20, restorator="diffusion"), 25.0, _described(), False, "but the denoise model is single-step"),
    (Job(60, 40, restorator="diffusion", colorize=True), 0.0, _described(), False, "colorize model is single-step"),
    (Job(60, 40, restorator="single"), 0.0, _described(upscale="autoregressive"), False, "is autoregressive"),
    (Job(60, 40, sampling=Sampling(steps=3)), 0.0, _described(), False, "steps, eta, seed, samples"),
    (Job(60, 40, region=(0, 0, 8, 8)), 0.0, _described(upscale="diffusion"), False, "--region"),
    (Job(60, 40, ensemble=2, restorator="diffusion"), 0.0, _described(), False, "--ensemble"),
    (Job(60, 40, ensemble=2), 25.0, _described(upscale="autoregressive"), False, "--ensemble"),
    (Job(60, 40), 25.0, _described(tunable=False), False, "only upscales"),
    (Job(30, 20, colorize=True), 0.0, _described(tunable=False), False, "only upscales"),
    (Job(60, 40, restorator="diffusion"), 25.0, _described(), True, "only the single-step restorator"),
    (Job(60, 40), 0.0, _described(upscale="diffusion"), True, "only the single-step restorator"),
    (Job(60, 40, colorize=True), 0.0, _described(), True, "--colorize and --consistency"),
    (Job(60, 40, consistency=True), 0.0, _described(), True, "--colorize and --consistency"),
    (Job(60, 40, ensemble=2), 25.0, _described(), True, "--ensemble"),
    (Job(120, 80, progressive=True), 0.0, _described(), True, "--progressive"),
])
def test_impossible_combinations_are_refused_in_one_line(job, sigma, described, bands, message):
    with pytest.raises(ValueError, match=message) as caught:
        plan(job, _told((20, 30), job, sigma), described, bands=bands)
    assert "\n" not in str(caught.value)


def _jpeg_aware(described: dict[str, ModelDescriptor]) -> dict[str, ModelDescriptor]:
    """The same models with an upscaler that is also told the JPEG quality."""
    return {**described, "upscale": ModelDescriptor("upscale", "single", (1, 4), (0, 0), (*TUNABLE, "jpeg"))}


@pytest.mark.parametrize("size,sigma,colorize,stages", [
    ((60, 40), 0.0, False, [("upscale", Degradation(sx=2.0, sy=2.0, jpeg=75))]),
    ((30, 20), 0.0, False, [("upscale", Degradation(jpeg=75))]),  # x1: the upscaler removes the artefacts alone
    ((30, 20), 0.0, True, [("upscale", Degradation(jpeg=75)), ("colorize", Degradation(gray=True))]),
    # noise given (or found): denoised first, and the denoised image is no longer a JPEG
    ((60, 40), 10.0, False, [("denoise", Degradation(sigma=10.0)), ("upscale", Degradation(sx=2.0, sy=2.0))]),
    ((30, 20), 10.0, False, [("denoise", Degradation(sigma=10.0))]),
])
def test_a_jpeg_goes_to_the_upscaler_told_its_quality(size, sigma, colorize, stages):
    job = Job(*size, colorize=colorize)
    planned = plan(job, Degradation(sigma=sigma, gray=colorize, jpeg=75).for_sizes((20, 30), (job.height, job.width)),
                   _jpeg_aware(_described()))
    assert [(s.task, s.degradation) for s in planned] == stages
    assert [s.model for s in planned] == [task for task, _ in stages]
    assert ("q75" in planned[0].label()) == (sigma == 0)


@pytest.mark.parametrize("job,slot,described", [
    (Job(30, 20), "upscale", _described()),
    (Job(60, 40), "upscale", _described()),
    (Job(60, 40, restorator="diffusion"), "diffusion", _jpeg_aware(_described())),  # the upscaler that runs
])
def test_a_jpeg_quality_told_to_a_model_that_reads_none_is_a_one_line_error(job, slot, described):
    with pytest.raises(ValueError, match=f"the {slot} model reads no JPEG condition, so it cannot be told quality "
                                         f"40") as caught:
        plan(job, Degradation(jpeg=40).for_sizes((20, 30), (job.height, job.width)), described)
    assert "\n" not in str(caught.value)


def test_a_model_in_a_slot_of_another_task_is_refused():
    described = _described()
    described["upscale"] = described["denoise"]
    with pytest.raises(ValueError, match="the upscale stage needs an upscaling model"):
        plan(Job(60, 40), _told((20, 30), Job(60, 40)), described)


def test_plan_is_pure_and_the_bundled_models_are_its_default():
    job = Job(60, 40, colorize=True)
    told = _told((20, 30), job, 25.0)
    assert plan(job, told) == plan(job, told) == plan(job, told, Models().descriptors)
    assert plan(job, told) == plan(job, told, _described())  # the bundled files describe as above


def _noisy_picture(h=12, w=14) -> Picture:
    return Picture(rgb=np.random.default_rng(0).random((h, w, 3), dtype=np.float32))


def test_refusals_come_before_any_work(monkeypatch):
    ran = []
    monkeypatch.setattr(pipeline, "_run", lambda *args: ran.append(args))
    models = Models(denoise=tiny_model(tunable=True), upscale=tiny_model(),
                    diffusion=tiny_model(restorator="diffusion"), colorize=tiny_model(tunable=True))
    job = Job(28, 24, noise=25.0, restorator="diffusion")
    with pytest.raises(ValueError, match="only the single-step"):  # streamed: it used to denoise, then refuse
        restore_bands(_noisy_picture(), job, models)
    with pytest.raises(ValueError, match="colorize model is single-step"):
        restore_picture(_noisy_picture(), Job(28, 24, noise=25.0, colorize=True, restorator="diffusion", force=True),
                        models)
    assert ran == []


def test_in_memory_and_streamed_output_run_one_plan():
    models = Models(upscale=tiny_model(), denoise=tiny_model(tunable=True))
    picture, job = _noisy_picture(), Job(28, 24, noise=20.0, tile=16)
    stages = plan_picture(picture, job, models)
    assert stages == plan_picture(picture, job, models, bands=True)
    assert [s.task for s in stages] == ["denoise", "upscale"]
    whole = restore_picture(picture, job, models).rgb
    _, bands = restore_bands(picture, job, models)
    np.testing.assert_array_equal(np.concatenate([rgb for rgb, _ in bands]), whole)


def test_stage_is_a_plain_record():
    stage = Stage("upscale", "upscale", Degradation(sx=2.0, sy=2.0), (10, 10), (20, 20), "single")
    assert stage.label() == "upscale (upscale model, single-step): 10x10 -> 20x20, told x2"


# --model goes to the stage its file declares ------------------------------------------------------

def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_model_with_another_task_than_the_commands_stages_is_a_one_line_error(capsys, tmp_path, photo, tunable_path,
                                                                               colorize_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "colorize", photo, "-o", out, "--model", tunable_path)  # a denoising model
    assert code == 2 and err.count("\n") == 1 and not out.exists()
    assert "is a denoising model, but this command has no denoise stage (it will colorize)" in err
    code, _, err = _run(capsys, "restore", photo, "-o", out, "--scale", "2", "--model", colorize_path)
    assert code == 2 and "no colorize stage (it will upscale)" in err and err.count("\n") == 1


def test_model_goes_to_the_stage_its_file_declares(capsys, tmp_path, photo, model_path, tunable_path):
    rgb = np.asarray(Image.open(photo), dtype=np.float32) / 255
    noisy = tmp_path / "noisy.png"
    Image.fromarray(np.uint8(np.clip(rgb + np.random.default_rng(0).normal(0, 0.1, rgb.shape), 0, 1) * 255)).save(noisy)
    picture = Picture(rgb=np.asarray(Image.open(noisy), dtype=np.float32) / 255)
    h, w = picture.rgb.shape[:2]
    job = Job(2 * w, 2 * h, noise=25.0)
    # an upscaling file upscales after the bundled denoiser (it used to replace the denoiser)
    assert _run(capsys, "restore", noisy, "-o", tmp_path / "a.png", "--noise", "25", "--scale", "2",
                "--model", model_path)[0] == 0
    expected = restore_picture(picture, job, Models(upscale=model_path)).rgb
    written = np.asarray(Image.open(tmp_path / "a.png"), dtype=np.float32) / 255
    assert np.abs(written - expected).max() <= 0.5 / 255 + 1e-6  # rounded to 8 bits
    assert np.abs(written - restore_picture(picture, job, Models()).rgb).max() > 0.05  # not the bundled upscaler
    # a denoising file denoises before the bundled upscaler
    assert _run(capsys, "restore", noisy, "-o", tmp_path / "b.png", "--noise", "25", "--scale", "2",
                "--model", tunable_path)[0] == 0
    expected = restore_picture(picture, job, Models(denoise=tunable_path)).rgb
    written = np.asarray(Image.open(tmp_path / "b.png"), dtype=np.float32) / 255
    assert np.abs(written - expected).max() <= 0.5 / 255 + 1e-6


def test_the_api_refuses_a_file_of_another_task(tunable_path, model_path):
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(CheckpointError, match="is a denoising model .*, not an upscaling one"):
        frannet.upscale(image, scale=2, model=tunable_path)
    with pytest.raises(CheckpointError, match="is an upscaling model .*, not a colorizing one"):
        frannet.colorize(image, model=model_path)
    with pytest.raises(CheckpointError, match="not a denoising one"):
        frannet.inpaint(image, np.zeros((8, 8), bool), model=model_path)


def test_a_file_that_says_nothing_is_refused_before_any_picture_is_read(capsys, tmp_path, photo):
    path = tmp_path / "old.safetensors"
    older_file(path, tiny_model(tunable=True), {"interpolated": {"a": "x", "b": "y", "alpha": 0.5}})
    assert main(["restore", str(photo), "-o", str(tmp_path / "o.png"), "--noise", "25", "--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert "re-export it with frannet export --task" in err and err.count("\n") == 1
