import pytest
import torch
import torch.nn.functional as F

from frannet.models.lookup import bicubic_lookup, bilinear_lookup


@pytest.mark.parametrize("mode,fn", [("bilinear", bilinear_lookup), ("bicubic", bicubic_lookup)])
def test_matches_grid_sample_with_border_padding(mode, fn):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 5, 13, 17, generator=g)
    points = torch.rand(2, 200, 2, generator=g) * 1.4 - 0.2  # includes points outside the image
    ref = F.grid_sample(img, (points * 2 - 1).unsqueeze(1), mode=mode, padding_mode="border", align_corners=False)
    pos = points.double() * torch.tensor([17.0, 13.0], dtype=torch.float64) - 0.5
    out = fn(img.permute(0, 2, 3, 1).contiguous(), pos)
    torch.testing.assert_close(out, ref.squeeze(2).transpose(1, 2), atol=2e-6, rtol=0)


def test_exact_at_pixel_centres_and_gradients_flow():
    img = torch.rand(1, 4, 6, 3, requires_grad=True)
    pos = torch.tensor([[[2.0, 1.0], [0.0, 3.0]]], dtype=torch.float64)
    for fn in (bilinear_lookup, bicubic_lookup):
        out = fn(img, pos)
        torch.testing.assert_close(out[0, 0], img[0, 1, 2])
        torch.testing.assert_close(out[0, 1], img[0, 3, 0])
    bilinear_lookup(img, pos + 0.3).sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
