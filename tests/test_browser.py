"""The page in a real browser: Playwright driving Debian's chromium against `frannet serve`'s app.

Set FRANNET_SCREENSHOT=docs/serve.png to also save a screenshot (made with the bundled model).
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import sync_playwright

from tiny import tiny_model

from frannet import save_model
from frannet.api import SAMPLE_IMAGE
from frannet.pipeline import Models
from frannet.serve.app import create_app

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: `apt-get install chromium`
SCREENSHOT = os.environ.get("FRANNET_SCREENSHOT")


@pytest.fixture
def server(model_path, tmp_path):
    """The app on a free loopback port, in a thread."""
    diffusion, color_diffusion = tmp_path / "tiny-diffusion.safetensors", tmp_path / "tiny-color-diffusion.safetensors"
    save_model(diffusion, tiny_model(restorator="diffusion"))
    save_model(color_diffusion, tiny_model(tunable=True, restorator="diffusion"), task="colorize")
    models = Models() if SCREENSHOT else Models(upscale=model_path, diffusion=diffusion,
                                                colorize_diffusion=color_diffusion)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(models=models), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def page():
    assert CHROMIUM.exists(), f"no {CHROMIUM}: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield browser.new_page(viewport={"width": 1280, "height": 820}, accept_downloads=True)
        browser.close()


def test_upscale_compare_and_download(server, page, tmp_path):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(server)
    page.locator("#file").set_input_files(str(SAMPLE_IMAGE))
    page.select_option("#task", "upscale")
    page.fill("#scale", "2")
    page.click("#run")
    page.wait_for_selector("#viewer:not([hidden])", timeout=60_000)

    width, height = Image.open(SAMPLE_IMAGE).size
    natural = page.eval_on_selector("#after", "img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [2 * width, 2 * height]
    assert page.eval_on_selector("#before", "img => img.naturalWidth") == width
    assert page.locator("#error").is_hidden()
    assert page.locator("#before").bounding_box() == page.locator("#after").bounding_box()  # aligned

    divider = page.locator("#divider")
    before = divider.get_attribute("style"), page.eval_on_selector("#after", "img => img.style.clipPath")
    box = divider.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 150, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    after = divider.get_attribute("style"), page.eval_on_selector("#after", "img => img.style.clipPath")
    assert after[0] != before[0] and after[1] != before[1]
    assert divider.bounding_box()["x"] < box["x"] - 100

    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT)
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"{SAMPLE_IMAGE.stem}-upscale-{2 * width}x{2 * height}.png"
    assert Image.open(saved).size == (2 * width, 2 * height)
    assert problems == []


def test_bad_scale_shows_an_error(server, page):
    page.goto(server)
    page.locator("#file").set_input_files(str(SAMPLE_IMAGE))
    page.fill("#scale", "zero")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert "scale expects a number" in page.inner_text("#error")
    assert page.locator("#viewer").is_hidden()


def test_diffusion_shows_its_cost_and_the_uncertainty_map(server, page):
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(server)
    page.select_option("#task", "denoise")
    assert page.eval_on_selector("#restorator option[value=diffusion]", "o => o.disabled")  # it cannot denoise
    page.select_option("#task", "upscale")
    assert page.locator("#cost").is_hidden() and page.locator("#samples").is_disabled()
    page.select_option("#restorator", "diffusion")
    assert "s per output megapixel, step and sample" in page.inner_text("#cost")
    assert page.input_value("#steps") == ""  # left empty, the server uses the model's measured best
    page.locator("#file").set_input_files(str(SAMPLE_IMAGE))
    page.fill("#scale", "2")
    page.fill("#steps", "2")
    page.fill("#samples", "3")
    page.click("#run")
    page.wait_for_selector("#viewer:not([hidden])", timeout=60_000)
    assert page.inner_text("#status-text").startswith("Done in ")
    assert " in " in page.inner_text("#result-info")

    width, height = Image.open(SAMPLE_IMAGE).size
    page.check("#show-uncertainty")
    page.wait_for_function("() => document.getElementById('after').src.endsWith('/uncertainty.png')")
    page.wait_for_function("() => document.getElementById('after').complete")
    assert page.eval_on_selector("#after", "img => [img.naturalWidth, img.naturalHeight]") == [2 * width, 2 * height]
    assert page.inner_text("#tag-after") == "uncertainty"
    page.uncheck("#show-uncertainty")
    assert page.eval_on_selector("#after", "img => img.src").endswith("/result.png")
    assert problems == []


def test_the_jpeg_quality_control_sends_its_choice(server, page):
    page.goto(server)
    assert page.input_value("#jpeg") == "auto" and page.locator("#jpeg-quality").is_disabled()
    page.select_option("#jpeg", "quality")
    assert page.locator("#jpeg-quality").is_enabled()
    page.fill("#jpeg-quality", "40")
    page.locator("#file").set_input_files(str(SAMPLE_IMAGE))
    page.fill("#scale", "2")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)  # the test's upscaler reads no JPEG quality
    assert "cannot be told quality 40" in page.inner_text("#error")
    page.select_option("#jpeg", "off")
    assert page.locator("#jpeg-quality").is_disabled()


def test_diffusion_colours_a_gray_photo_with_the_seed_chosen(server, page, tmp_path):
    gray = tmp_path / "gray.png"
    Image.open(SAMPLE_IMAGE).convert("L").save(gray)
    page.goto(server)
    page.select_option("#task", "colorize")
    assert page.locator("#seed").is_disabled()
    page.select_option("#restorator", "diffusion")
    assert page.locator("#seed").is_enabled() and page.locator("#samples").is_enabled()
    page.locator("#file").set_input_files(str(gray))
    page.fill("#scale", "1")
    page.fill("#samples", "1")
    colourings, shown = [], ""
    for seed in ("3", "4"):
        page.fill("#seed", seed)
        page.click("#run")
        page.wait_for_function("shown => document.getElementById('status-text').textContent.startsWith('Done') "
                               "&& document.getElementById('after').src !== shown", arg=shown, timeout=60_000)
        shown = page.eval_on_selector("#after", "img => img.src")
        colourings.append(np.asarray(Image.open(io.BytesIO(page.request.get(shown).body())), dtype=int))
    assert page.locator("#error").is_hidden()
    assert colourings[0].shape == (*np.asarray(Image.open(gray)).shape, 3)
    assert np.abs(colourings[0] - colourings[1]).max() > 0  # each seed its colouring: the seed reached the job
