"""The encoder's CNN run by ncnn (Tencent's C++ inference engine, CPU only, Vulkan off).

ncnn's Winograd convolutions give float32 maps within ~3e-5 of PyTorch's in about half its time on
one thread (``benchmarks/engines.py``; README, "Where the time goes"). The network is written from the
``Encoder``'s weights (ncnn's .param text and .bin bytes), one network per condition row: a
tunable model's FiLM and every block's residual scale are folded into the convolutions, so each
residual block is two convolutions and an add. The input shift and unshuffle stay in torch
(``Encoder.trunk_input``). The ``ncnn`` package is imported when a network is first built.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import torch

from .encoder import Encoder, ResBlock

MISSING = "the ncnn engine needs the ncnn package: pip install 'frannet[fast]' (or pip install ncnn)"
RAW_FLOAT32 = bytes(4)  # the tag before a convolution's weights in the .bin: 0 = plain float32 follows
CACHED_NETS = 4  # networks kept per encoder: one per condition row (the tiles of an image share one)


def import_ncnn():
    """The ncnn module, or an ImportError saying how to install it."""
    try:
        import ncnn
    except ImportError:
        raise ImportError(MISSING) from None
    return ncnn


class _Writer:
    """Accumulates the layer lines of an ncnn .param file and the weights of its .bin file,
    from the input blob ``in``."""

    def __init__(self):
        self.lines = ["Input in 0 1 in"]
        self.weights: list[bytes] = []
        self.blobs = 1

    def layer(self, kind: str, inputs: list[str], n_out: int, params: str = "") -> list[str]:
        outputs = [f"b{self.blobs + i}" for i in range(n_out)]
        self.blobs += n_out
        self.lines.append(f"{kind} l{len(self.lines)} {len(inputs)} {n_out} {' '.join(inputs + outputs)} {params}".rstrip())
        return outputs

    def conv(self, x: str, conv: torch.nn.Conv2d, scale: torch.Tensor | float = 1.0,
             shift: torch.Tensor | float = 0.0, relu: bool = False) -> str:
        """``conv`` followed by ``* scale + shift`` per output channel (and ReLU), as one convolution:
        the scale multiplies its weights and bias, the shift adds to its bias."""
        scale = torch.as_tensor(scale, dtype=torch.float32).expand(conv.out_channels)
        weight = conv.weight.float() * scale[:, None, None, None]
        bias = conv.bias.float() * scale + shift
        params = (f"0={conv.out_channels} 1={conv.kernel_size[0]} 3={conv.stride[0]} 4={conv.padding[0]} "
                  f"5=1 6={weight.numel()}" + (" 9=1" if relu else ""))  # 9=1: ReLU fused
        self.weights += [RAW_FLOAT32, weight.numpy().tobytes(), bias.numpy().tobytes()]
        return self.layer("Convolution", [x], 1, params)[0]

    def split(self, x: str) -> list[str]:
        """Two names for ``x``: in ncnn a blob is consumed once."""
        return self.layer("Split", [x], 2)

    def add(self, a: str, b: str) -> str:
        return self.layer("BinaryOp", [a, b], 1, "0=0")[0]  # 0=0: add

    def block(self, x: str, block: ResBlock, film: tuple[torch.Tensor, torch.Tensor] | None) -> str:
        """x + s * conv2(relu(conv1(x) * (1 + gamma) + beta)): the FiLM folds into conv1, s into conv2."""
        skip, x = self.split(x)
        gamma, beta = (1 + film[0].flatten(), film[1].flatten()) if film is not None else (1.0, 0.0)
        h = self.conv(x, block.conv1, gamma, beta, relu=True)
        return self.add(skip, self.conv(h, block.conv2, block.res_scale))

    def text(self) -> str:
        return "\n".join(["7767517", f"{len(self.lines)} {self.blobs}", *self.lines]) + "\n"


@torch.no_grad()
def ncnn_network(encoder: Encoder, cond: torch.Tensor) -> tuple[str, bytes, list[str]]:
    """The .param text and .bin bytes of ``encoder``'s CNN for one (1, cond_dims) condition row,
    and the names of its output blobs: ``Encoder.forward``'s maps, from the input blob ``in``
    (``Encoder.trunk_input``)."""
    films = iter(encoder.modulation(cond) if encoder.modulation is not None else [])
    net = _Writer()
    skip, t = net.split(net.conv("in", encoder.head))
    for block in encoder.body:
        t = net.block(t, block, next(films, None))
    maps = [net.add(skip, net.conv(t, encoder.tail))]
    for down, blocks in zip(encoder.down, encoder.coarse):
        maps[-1], t = net.split(maps[-1])  # an output, and the next level's input
        t = net.conv(t, down[0], relu=True)
        for block in blocks:
            t = net.block(t, block, next(films, None))
        maps.append(t)
    return net.text(), b"".join(net.weights), maps


class NcnnEncoder:
    """``encoder``'s forward pass through ncnn: the same maps, within ~1e-5 of torch's.

    One network is built per condition row and thread count and kept (the last ``CACHED_NETS``),
    so the tiles of one image reuse it. Built from the weights as they are then: after changing
    them, make a new NcnnEncoder (``FranNet.set_engine``). Safe to share between threads.
    """

    def __init__(self, encoder: Encoder, options: dict | None = None):
        self.ncnn = import_ncnn()
        self.encoder = encoder
        self.options = options or {}  # ncnn ``Option`` fields set after the defaults here (benchmarks try them)
        self._nets: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def net(self, cond: torch.Tensor):
        """The ncnn network for one (1, cond_dims) condition row and its output blobs, built on first use."""
        threads = torch.get_num_threads()
        key = (cond.float().numpy().tobytes() if self.encoder.modulation is not None else None, threads)
        with self._lock:
            if key in self._nets:
                self._nets.move_to_end(key)
                return self._nets[key]
        param, weights, outputs = ncnn_network(self.encoder, cond)
        net = self.ncnn.Net()
        net.opt.use_vulkan_compute = False
        net.opt.use_winograd_convolution = True
        net.opt.num_threads = threads
        for name, value in self.options.items():
            setattr(net.opt, name, value)
        if net.load_param_mem(param) != 0:
            raise RuntimeError("ncnn could not read the encoder's network")
        net.load_model_mem(weights)  # copies the weights; says nothing (a mismatch shows in the tests)
        with self._lock:
            self._nets[key] = net, outputs
            while len(self._nets) > CACHED_NETS:
                self._nets.popitem(last=False)
        return net, outputs

    def __call__(self, x: torch.Tensor, cond: torch.Tensor) -> list[torch.Tensor]:
        """``Encoder.forward(x, cond)`` for inference: (B, C, H, W) maps, channels-last like torch's."""
        x = self.encoder.trunk_input(x).float().contiguous()
        per_image = [self._run(*self.net(cond[i:i + 1]), x[i]) for i in range(x.shape[0])]
        return per_image[0] if len(per_image) == 1 else [torch.cat(level) for level in zip(*per_image)]

    def _run(self, net, outputs: list[str], x: torch.Tensor) -> list[torch.Tensor]:
        # A pool per run: its buffers are reused within the run and all freed after it, so a
        # kept network holds no memory between tiles (ncnn's own pool is the network's, never
        # emptied). Reusing only buffers at most twice the size asked for measured the lowest
        # peak (x4 of 512^2: 670 MB against 830-970 MB with any larger buffer reused).
        pool = self.ncnn.PoolAllocator()
        pool.set_size_compare_ratio(0.5)
        ex = net.create_extractor()
        ex.set_blob_allocator(pool)
        ex.set_workspace_allocator(pool)
        try:
            ex.input("in", self.ncnn.Mat(x.numpy()))
            return [self._extract(ex, name) for name in outputs]
        finally:
            ex.clear()  # every buffer back to the pool before the pool goes

    @staticmethod
    def _extract(ex, name: str) -> torch.Tensor:
        ret, out = ex.extract(name)
        try:
            if ret != 0:
                raise RuntimeError(f"ncnn failed on the encoder (error {ret})")
            plane = torch.from_numpy(np.asarray(out))  # (C, H, W), a view of ncnn's memory
            return plane[None].contiguous(memory_format=torch.channels_last)  # one transposing copy
        finally:
            out.release()
