"""Speed candidates for the decoder and the encoder, each timed alone on the same inputs.

    OMP_NUM_THREADS=1 python benchmarks/candidates.py [decoder] [encoder] [--repeats 3] [--json OUT]

decoder: x4 of a 512^2 crop of the sample photo with frannet-sr; the decode of ``--points`` output
pixels (whole rows from the top of the 2048^2 output), the encoding done once beforehand. Every
candidate's output is compared with the reference decode (``query_pixels`` in chunks of 65536):
  eager-chunkN     the reference, ``query_pixels`` on chunks of N points
  grid-blockN      ``query_grid``: coordinate term per row and column, separable sampling, MLP in
                   blocks of N points (what render_tiled runs)
  grid-compile     the grid path with its MLP under torch.compile (inductor)
  grid-bf16        the grid path with the MLP's weights and activations in bfloat16
  grid-ort / grid-openvino   the grid path with its MLP run by ONNX Runtime / OpenVINO (fixed block)
encoder: ``model.encode`` of the 512^2 crop (frannet-sr) and of a 512^2 noisy crop (frannet-denoise):
  eager (channels-last, the current code), torch.compile, ONNX Runtime, OpenVINO, bf16 autocast.
Times are CPU seconds of the (single) thread, best of ``--repeats`` rounds in which the candidates
take turns, so that load from other processes on the shared machine hits them alike.

Candidates whose package is missing are skipped (``pip install onnx onnxruntime openvino``).
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from frannet.checkpoint import load_model
from frannet.models import decoder as decoder_module
from frannet.models.lookup import bicubic_grid_lookup
from frannet.pipeline import BUNDLED
from frannet.tiling import Tile

sys.path.insert(0, str(Path(__file__).parent))
from profile_restore import photo  # noqa: E402


def grid_axes(size: int, scale: int, points: int):
    out = size * scale
    rows = max(1, points // out)
    tile = Tile(range(0, out), range(0, out), (0, size, 0, size))
    return tile.axes(range(0, rows), (size, size), (out, out)), tile.points(range(0, rows), (size, size), (out, out))[0]


class MLPRunner:
    """Runs the decoder's MLP on blocks of a fixed size through another engine."""

    def __init__(self, mlp: torch.nn.Module, engine: str, block: int):
        self.block = block
        hidden = mlp[0].in_features
        buf = io.BytesIO()
        torch.onnx.export(mlp, (torch.zeros(block, hidden),), buf, input_names=["h"], output_names=["out"],
                          dynamo=False)
        model = buf.getvalue()
        if engine == "ort":
            import onnxruntime as ort
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            self.run = lambda h: self.session.run(None, {"h": h})[0]
        else:
            import openvino as ov
            core = ov.Core()
            net = core.read_model(_tmp_onnx(model))
            compiled = core.compile_model(net, "CPU", {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
            request = compiled.create_infer_request()
            self.run = lambda h: request.infer({0: h})[0]

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        n = h.shape[0]
        if n < self.block:
            h = F.pad(h, (0, 0, 0, self.block - n))
        return torch.from_numpy(np.asarray(self.run(h.numpy()))[:n].copy())


def _tmp_onnx(data: bytes) -> str:
    import tempfile
    f = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False)
    f.write(data)
    f.close()
    return f.name


def decoder_candidates(repeats: int, points: int, size: int = 512, scale: int = 4) -> dict:
    model = load_model(BUNDLED["upscale"])
    lr = photo(size)
    with torch.no_grad():
        enc = model.encode(lr[None], torch.tensor([[float(scale), float(scale)]]))
    (ys, xs), pos = grid_axes(size, scale, points)
    n = pos.shape[1]
    dec = model.decoder
    block = decoder_module.GRID_BLOCK

    def eager(chunk):
        def run():
            return torch.cat([model.query_pixels(enc, pos[:, i:i + chunk])[0] for i in range(0, n, chunk)])
        return run

    with torch.no_grad():
        ref = eager(65536)()
    cands = {}
    for chunk in (2048, 4096, 16384, 65536, 262144):
        cands[f"eager-chunk{chunk}"] = eager(chunk)

    def grid(b=None, mlp=None):
        def run():
            if mlp is None:
                out = dec.forward_grid(enc.projected, enc.bias, ys, xs, block=b or block)
                return out.add_(bicubic_grid_lookup(enc.lr, ys - 0.5, xs - 0.5))
            dec.run_mlp = mlp  # an instance attribute shadows the method
            try:
                return model.query_grid(enc, ys, xs)
            finally:
                del dec.run_mlp
        return run

    for b in (1024, 2048, 4096, 16384, 65536):
        cands[f"grid-block{b}"] = grid(b)
    cands["grid-eager-mlp"] = grid(mlp=dec.mlp)
    errors = {}
    try:
        cands["grid-compile-mlp"] = grid(mlp=torch.compile(dec.mlp, dynamic=False))
    except Exception as exc:
        errors["grid-compile-mlp"] = str(exc)[:300]
    mlp16 = copy.deepcopy(dec.mlp).to(torch.bfloat16)
    cands["grid-bf16-eager"] = grid(mlp=lambda h: mlp16(h.to(torch.bfloat16)).float())
    lin16 = [(m.weight.to(torch.bfloat16), m.bias.to(torch.bfloat16)) for m in mlp16 if isinstance(m, torch.nn.Linear)]

    def bf16_fused(h):
        h = h.to(torch.bfloat16)
        for w, bias in lin16[:-1]:
            h = torch.ops.mkldnn._linear_pointwise(h, w, bias, "relu", [], "")
        return torch.ops.mkldnn._linear_pointwise(h, *lin16[-1], "none", [], "").float()
    cands["grid-bf16-fused"] = grid(mlp=bf16_fused)
    for engine in ("ort", "openvino"):
        try:
            cands[f"grid-{engine}"] = grid(mlp=MLPRunner(dec.mlp, engine, block))
        except Exception as exc:
            errors[f"grid-{engine}"] = f"{type(exc).__name__}: {exc}"[:300]
    results = interleaved(cands, repeats, ref, n)
    results.update({k: {"error": v} for k, v in errors.items()})
    for k, v in errors.items():
        print(f"{k}: failed: {v}")
    return {"points": n, "task": f"x{scale} of {size}^2", "candidates": results}


def interleaved(cands: dict, repeats: int, ref, n: int | None = None) -> dict:
    """Best time of each candidate over ``repeats`` rounds, the candidates taking turns within a
    round (so a burst of load on the shared machine hits them alike), and its max abs error."""
    results, best = {}, {}
    with torch.no_grad():
        for name, fn in list(cands.items()):
            try:
                got = fn()  # warm-up (and compilation)
                got = got if isinstance(got, (list, tuple)) else [got]
                refs = ref if isinstance(ref, (list, tuple)) else [ref]
                results[name] = {"max_abs_err": max((a - b).abs().max().item() for a, b in zip(got, refs))}
                best[name] = float("inf")
            except Exception as exc:  # a candidate that cannot run is reported, not fatal
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                del cands[name]
        for _ in range(repeats):
            for name, fn in cands.items():
                start = time.thread_time()  # CPU seconds: time the core spent on other processes is not counted
                fn()
                best[name] = min(best[name], time.thread_time() - start)
    for name, seconds in best.items():
        results[name]["seconds"] = seconds
        extra = ""
        if n:
            results[name]["us_per_point"] = seconds / n * 1e6
            extra = f"{seconds / n * 1e6:>9.3f} us/pt"
        print(f"{name:<22}{seconds:>9.3f} s{extra}  err {results[name]['max_abs_err']:.2e}", flush=True)
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<22} failed: {r['error']}", flush=True)
    return results


def encoder_candidates(repeats: int, size: int = 512) -> dict:
    from frannet.models.decoder import condition
    out = {}
    for stage, noise in (("upscale", 0.0), ("denoise", 25.0)):
        model = load_model(BUNDLED[stage])
        lr = photo(size)[None]
        cond_in = torch.tensor([[4.0, 4.0, 0.0, 0.0]]) if stage == "upscale" else torch.tensor([[1.0, 1.0, noise, 0.0]])
        cond = condition(cond_in, model.cfg)
        enc = model.encoder
        with torch.no_grad():
            ref = enc(lr, cond)
        cands, errors = {"eager": lambda: enc(lr, cond)}, {}
        try:
            compiled = torch.compile(enc, dynamic=False)
            cands["compile"] = lambda: compiled(lr, cond)
        except Exception as exc:
            errors["compile"] = str(exc)[:300]

        def bf16():
            with torch.autocast("cpu", torch.bfloat16):
                return [m.float() for m in enc(lr, cond)]
        cands["bf16-autocast"] = bf16

        class Wrap(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = enc

            def forward(self, x, c):
                return tuple(self.enc(x, c))
        try:
            buf = io.BytesIO()
            torch.onnx.export(Wrap(), (lr, cond), buf, dynamo=False)
            onnx_bytes = buf.getvalue()
        except Exception as exc:
            onnx_bytes = None
            errors["onnx-export"] = str(exc)[:300]
        if onnx_bytes is not None:
            try:
                import onnxruntime as ort
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = opts.inter_op_num_threads = 1
                sess = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
                names = [i.name for i in sess.get_inputs()]
                feed = dict(zip(names, [lr.numpy(), cond.numpy()]))
                cands["onnxruntime"] = lambda: [torch.from_numpy(a) for a in sess.run(None, feed)]
            except Exception as exc:
                errors["onnxruntime"] = f"{type(exc).__name__}: {exc}"[:300]
            try:
                import openvino as ov
                core = ov.Core()
                compiled_ov = core.compile_model(core.read_model(_tmp_onnx(onnx_bytes)), "CPU",
                                                 {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
                req = compiled_ov.create_infer_request()
                inputs = [lr.numpy(), cond.numpy()][:len(compiled_ov.inputs)]

                def ov_run():
                    res = req.infer(inputs)
                    return [torch.from_numpy(np.asarray(res[o]).copy()) for o in compiled_ov.outputs]
                cands["openvino"] = ov_run
            except Exception as exc:
                errors["openvino"] = f"{type(exc).__name__}: {exc}"[:300]
        print(f"encoder of {stage} ({size}^2):")
        results = interleaved(cands, repeats, ref)
        results.update({k: {"error": v} for k, v in errors.items()})
        for k, v in errors.items():
            print(f"{k}: failed: {v}")
        out[stage] = results
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", default=["decoder", "encoder"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=int, default=1 << 20, help="output pixels decoded (default 2^20)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = {"threads": 1, "repeats": args.repeats}
    if "decoder" in args.parts:
        result["decoder"] = decoder_candidates(args.repeats, args.points)
    if "encoder" in args.parts:
        result["encoder"] = encoder_candidates(args.repeats)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
