import torch

from frannet.coords import pixel_centers


def test_pixel_centers_values():
    pts = pixel_centers(2, 4)
    assert pts.shape == (8, 2)
    assert torch.allclose(pts[0], torch.tensor([0.125, 0.25]))
    assert torch.allclose(pts[-1], torch.tensor([0.875, 0.75]))


def test_window_is_a_slice_of_the_full_grid():
    full = pixel_centers(7, 5).reshape(7, 5, 2)
    window = pixel_centers(7, 5, rows=slice(2, 6), cols=slice(1, 4)).reshape(4, 3, 2)
    assert torch.equal(window, full[2:6, 1:4])


def test_same_point_at_any_resolution():
    # The centre of the image is the same point whatever the resolution.
    assert torch.allclose(pixel_centers(3, 3)[4], torch.tensor([0.5, 0.5]))
    assert torch.allclose(pixel_centers(2, 2).mean(0), torch.tensor([0.5, 0.5]))

