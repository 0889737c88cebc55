"""Self-ensemble: mirror views restored and averaged (--ensemble)."""

import numpy as np
import pytest
import torch
from PIL import Image
from tiny import tiny_model

from frannet.cli import main
from frannet.degradations import Degradation
from frannet.ensemble import views
from frannet.io import Picture
from frannet.pipeline import Job, Models, restore_bands, restore_picture
from frannet.restorators import render


@pytest.mark.parametrize("view", views(8))
def test_each_view_is_undone_exactly_and_maps_regions(view):
    image = torch.rand(3, 5, 7)
    seen = view.apply(image)
    assert seen.shape[-2:] == view.size((5, 7))
    assert torch.equal(view.undo(seen), image)
    x0, y0, x1, y1 = view.region((1, 2, 4, 5), (5, 7))
    assert torch.equal(view.undo(seen[:, y0:y1, x0:x1]), image[:, 2:5, 1:4])


def test_views_must_be_a_whole_set():
    assert len(views(1)) == 1 and len({*views(8)}) == 8
    with pytest.raises(ValueError, match="1, 2, 4, 8"):
        Job(8, 8, ensemble=3)


def _picture(rgb: torch.Tensor) -> Picture:
    return Picture(rgb=rgb.permute(1, 2, 0).numpy())


def test_two_views_average_the_image_and_its_mirror():
    model = tiny_model(tunable=True)
    noisy = torch.rand(3, 12, 17)
    models = Models(denoise=model)
    out = restore_picture(_picture(noisy), Job(17, 12, noise=25.0, ensemble=2), models).rgb
    plain = render(model, noisy, (12, 17), degradation=Degradation(sigma=25.0))
    mirrored = render(model, noisy.flip(-1), (12, 17), degradation=Degradation(sigma=25.0)).flip(-1)
    expected = ((plain + mirrored) / 2).clamp(0, 1).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert np.abs(out - restore_picture(_picture(noisy), Job(17, 12, noise=25.0), models).rgb).max() > 1e-4


def test_a_region_of_an_ensemble_is_the_same_crop_of_the_whole():
    model = tiny_model()
    lr = torch.rand(3, 9, 13)
    whole = restore_picture(_picture(lr), Job(26, 18, ensemble=8), Models(upscale=model)).rgb
    window = restore_picture(_picture(lr), Job(26, 18, ensemble=8, region=(3, 5, 20, 11)), Models(upscale=model)).rgb
    np.testing.assert_allclose(window, whole[5:11, 3:20], atol=1e-6)


def test_upscaling_band_by_band_refuses_an_ensemble():
    with pytest.raises(ValueError, match="--ensemble"):
        restore_bands(_picture(torch.rand(3, 8, 8)), Job(16, 16, ensemble=2), Models(upscale=tiny_model()))


def test_cli_denoises_with_an_ensemble(capsys, tmp_path, tunable_path):
    src, out = tmp_path / "noisy.png", tmp_path / "clean.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(src)
    code = main(["denoise", str(src), "-o", str(out), "--noise", "25", "--ensemble", "4", "--model", str(tunable_path)])
    assert code == 0, capsys.readouterr().err
    assert np.asarray(Image.open(out)).shape == (20, 24, 3)
    assert main(["denoise", str(src), "-o", str(out), "--ensemble", "3"]) == 2
    assert capsys.readouterr().err == "frannet: error: --ensemble: must be 1, 2, 4 or 8, got '3'\n"


def test_an_iterative_restorator_refuses_an_ensemble():
    model = tiny_model(restorator="diffusion")
    with pytest.raises(ValueError, match="--samples"):
        restore_picture(_picture(torch.rand(3, 8, 8)), Job(16, 16, ensemble=2), Models(upscale=model))
