"""Consistency with a JPEG file: the pictures its encoder would have stored the same way.

A JPEG keeps, for each 8x8 block of the luma, the block's DCT coefficients divided by the
quantization table's steps and rounded. Any picture whose coefficients lie within half a step
of the decoded picture's would be stored with the same numbers. That set is a box in DCT space
and the blockwise DCT is orthonormal, so projecting onto it is clamping each coefficient into
its cell: the quantization constraint set of POCS deblocking.

``--consistency`` on a JPEG input holds the output's bicubic downscale to these cells, not to
the decoded pixels: held to those, the output would take back the very artefacts the model
removed (at x1 it would be the input again). The luma alone is held: the chroma is stored at
half resolution, through the encoder's own downsampling. Only full blocks of the grid that
starts at the top-left pixel are held, and of those only the ones the decoder did not clip (a
value of 0 or 255 in any channel: there the decoded pixels no longer tell the stored numbers);
and only when the decoded coefficients do sit on the table's multiples, by the pixel estimate's
rule (``jpeg_quality.table_fit``): ``cells`` returns None for a picture cropped off its grid or
resized, and for one too smooth to tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .consistency import BicubicDown, Gray
from .degradations import LUMA
from .jpeg_quality import dct_matrix, ijg_table, nonzero_ac, table_fit

SLACK = 0.5  # the decoder's rounding to 8 bits moves a coefficient by about this much


def block_dct(luma: torch.Tensor) -> torch.Tensor:
    """(H, W) luma on the 0-255 scale -> (H // 8, W // 8, 8, 8) DCT coefficients of its full
    blocks, level-shifted as JPEG does."""
    h, w = luma.shape[0] // 8 * 8, luma.shape[1] // 8 * 8
    d = torch.from_numpy(dct_matrix(8)).to(luma)
    blocks = (luma[:h, :w] - 128).reshape(h // 8, 8, w // 8, 8).transpose(1, 2)
    return d @ blocks @ d.T


def block_idct(coefficients: torch.Tensor) -> torch.Tensor:
    """The inverse of ``block_dct`` on the full blocks: (H // 8 * 8, W // 8 * 8) luma."""
    d = torch.from_numpy(dct_matrix(8)).to(coefficients)
    blocks = d.T @ coefficients @ d + 128
    nh, nw = blocks.shape[:2]
    return blocks.transpose(1, 2).reshape(nh * 8, nw * 8)


@dataclass(frozen=True)
class QuantizationCells:
    """The cells of a decoded JPEG's luma: ``observed`` coefficients (``block_dct``), each
    coefficient free within half its ``step`` (8, 8) of them (plus the decoder's rounding), in
    the blocks ``known`` (H // 8, W // 8); the other blocks are free."""

    observed: torch.Tensor
    step: torch.Tensor
    known: torch.Tensor

    def project(self, luma: torch.Tensor) -> torch.Tensor:
        """(H, W) luma in [0, 1] -> the nearest luma inside the cells; the pixels of partial
        blocks at the right and bottom edges are kept."""
        half = torch.where(self.known[..., None, None], self.step / 2 + SLACK, torch.inf)
        inside = block_dct(luma * 255).clamp(self.observed - half, self.observed + half)
        out = luma.clone()
        held = block_idct(inside) / 255
        out[:held.shape[0], :held.shape[1]] = held
        return out


def cells(decoded: torch.Tensor, quality: int) -> QuantizationCells | None:
    """The cells of ``decoded`` (3, h, w) in [0, 1], a JPEG of IJG ``quality``; None when its
    coefficients do not sit on that table's multiples (see the module's docstring)."""
    luma = (decoded.double() * decoded.new_tensor(LUMA, dtype=torch.float64).view(3, 1, 1)).sum(0) * 255
    observed = block_dct(luma)
    nh, nw = observed.shape[:2]
    clipped = ((decoded <= 0) | (decoded >= 1)).any(dim=0)[:nh * 8, :nw * 8]
    known = ~clipped.reshape(nh, 8, nw, 8).any(dim=3).any(dim=1)
    table = ijg_table(quality)
    if table_fit(*nonzero_ac(observed[known].reshape(-1, 64).numpy()), table) is None:  # the pixel estimate's rule
        return None
    return QuantizationCells(observed, torch.from_numpy(table.reshape(8, 8)).double(), known)


def hold_to_jpeg(out: torch.Tensor, down: BicubicDown, held: QuantizationCells) -> torch.Tensor:
    """``out`` (3, H, W) projected so that its downscale ``down(out)`` has its luma inside the
    cells, its chroma untouched (the luma change is added to all three channels alike), and its
    values in [0, 1] (``project_valid``)."""
    gray = Gray(LUMA)
    small = down(out.double())
    luma = gray(small)[0]
    target = (small + (held.project(luma) - luma)).clamp(0.0, 1.0)  # a target outside [0, 1] slows the rounds
    return down.project_valid(out.double(), target).to(out.dtype)
