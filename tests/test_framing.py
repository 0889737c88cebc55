"""An exact size of another aspect: stretched with a note, or --fit / --fill with the aspect kept."""

import numpy as np
import pytest
from PIL import Image

import frannet
from frannet.cli import main
from frannet.framing import aspect_change, framed
from frannet.io import read_image


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("aspect,size,window", [
    ("stretch", (1920, 1080), None),
    ("fit", (1620, 1080), None),                          # as high as the box, narrower
    ("fill", (1920, 1280), (0, 100, 1920, 1180)),         # as wide as the box, the centre rows kept
])
def test_a_3_2_photo_in_a_16_9_box(aspect, size, window):
    assert framed(3000, 2000, (1920, 1080), aspect) == (size, window)


def test_fit_and_fill_stay_inside_and_cover_the_box_with_the_aspect_kept():
    for w, h in ((37, 40), (640, 480), (1000, 333), (7, 199)):
        for box in ((100, 100), (1920, 1080), (333, 1000)):
            (fw, fh), _ = framed(w, h, box, "fit")
            assert fw <= box[0] and fh <= box[1] and (fw == box[0] or fh == box[1])
            (cw, ch), (x0, y0, x1, y1) = framed(w, h, box, "fill")
            assert cw >= box[0] and ch >= box[1] and (cw == box[0] or ch == box[1])
            assert (x1 - x0, y1 - y0) == box and abs(x0 - (cw - x1)) <= 1 and abs(y0 - (ch - y1)) <= 1
            for out_w, out_h in ((fw, fh), (cw, ch)):  # within rounding of the input's aspect
                assert abs(out_w / out_h - w / h) <= (w / h) * (1 / out_w + 1 / out_h)
    assert aspect_change(3000, 2000, (1920, 1080)) == pytest.approx(1920 / 1080 / 1.5 - 1)
    with pytest.raises(ValueError, match="aspect"):
        framed(10, 10, (20, 20), "squash")


def test_api_fill_is_the_centre_of_the_covering_output(model):
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    cover = frannet.upscale(image, size=(60, 40), model=model)
    assert np.array_equal(frannet.upscale(image, size=(60, 30), model=model, aspect="fill"), cover[5:35])
    assert frannet.upscale(image, size=(60, 60), model=model, aspect="fit").shape == (40, 60, 3)
    with pytest.raises(ValueError, match="exact size"):
        frannet.upscale(image, scale=2, model=model, aspect="fit")


def test_cli_notes_a_stretch_once_and_fit_and_fill_keep_the_aspect(capsys, tmp_path, photo, model_path):
    args = ["--model", model_path, "--quiet"]  # the photo is 37x40
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "s.png", "--size", "100x60", *args)
    assert code == 0 and Image.open(tmp_path / "s.png").size == (100, 60)
    assert err == "frannet: note: photo.png: 37x40 stretched to 100x60 (aspect 0.93 to 1.67); " \
                  "--fit or --fill keep the aspect\n"
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "near.png", "--size", "111x119", *args)
    assert code == 0 and err == ""  # 0.8% is no stretch worth a note
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "fit.png", "--size", "100x60", "--fit", *args)
    assert code == 0 and err == "" and Image.open(tmp_path / "fit.png").size == (56, 60)
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "fill.png", "--size", "100x60", "--fill", *args)
    assert code == 0 and err == "" and Image.open(tmp_path / "fill.png").size == (100, 60)
    code, _, err = _run(capsys, "restore", photo, "-o", tmp_path / "x.png", "--scale", "2", "--fill", *args)
    assert code == 2 and err == "frannet: error: --fill keeps the aspect inside an exact size: give --size too\n"


def test_cli_fill_streamed_band_by_band_equals_the_whole_one(capsys, tmp_path, photo, model_path):
    args = ["restore", photo, "--size", "100x60", "--fill", "--model", model_path, "--quiet"]
    assert _run(capsys, *args, "-o", tmp_path / "whole.tif")[0] == 0
    assert _run(capsys, *args, "-o", tmp_path / "streamed.tif", "--max-memory", "1")[0] == 0  # too little to hold it
    whole, streamed = read_image(tmp_path / "whole.tif").rgb, read_image(tmp_path / "streamed.tif").rgb
    assert whole.shape == streamed.shape == (60, 100, 3)
    assert np.abs(whole - streamed).max() <= 1 / 255
