#!/usr/bin/env bash
# Rebuild the bundled super-resolution models (single-step and autoregressive) and their figures
# from nothing but package files (about twelve hours on one or two CPU cores). Run from the
# repository root in the project's venv.
set -euo pipefail
python scripts/build_dataset.py --out data
# Phase 1: clean bicubic downscales of the wheel images (the first bundled frannet-sr)
frannet train configs/sr.toml --resume auto
last=$(ls runs/sr/ckpt_*.safetensors | tail -n 1)
frannet export "$last" -o checkpoints/sr-step3600.safetensors --half
# Phase 2: the corpus, half of the inputs saved as JPEGs, the model told their quality
frannet train configs/sr-jpeg.toml --resume auto
last=$(ls runs/sr-jpeg/ckpt_*.safetensors | tail -n 1)
frannet export "$last" -o checkpoints/sr-jpeg-step4500.safetensors --half
# Phase 3: more practice at x2 and at JPEG qualities 30-95
frannet train configs/sr-jpeg2.toml --resume auto
frannet export runs/sr-jpeg2/ckpt_0001500.safetensors -o checkpoints/sr-jpeg2-step1500.safetensors --half
# Phase 4: the L2 loss (the mean of the answers, which PSNR rewards), with more practice at x1-x2
frannet train configs/sr-l2.toml --resume auto
frannet export runs/sr-l2/ckpt_0003000.safetensors -o checkpoints/sr-l2-step3000.safetensors --half
# Phase 5: a twice-saved example's earlier save at a camera's qualities (85-98)
frannet train configs/sr-l2b.toml --resume auto
frannet export runs/sr-l2b/ckpt_0001500.safetensors -o checkpoints/sr-l2b-step1500.safetensors --half
# Phase 6: two fifths of the JPEG qualities from 80-95, where cameras and the web save
frannet train configs/sr-l2c.toml --resume auto
frannet export runs/sr-l2c/ckpt_0001000.safetensors -o checkpoints/sr-l2c-step1000.safetensors --half
# Phase 7: the soft training pictures shrunk until they hold a photo's detail
frannet train configs/sr-detail.toml --resume auto
frannet export runs/sr-detail/ckpt_0005000.safetensors -o checkpoints/sr-detail-step5000.safetensors --half
# Phase 8: a second cosine cycle of phase 7's recipe
frannet train configs/sr-detail2.toml --resume auto
frannet export runs/sr-detail2/ckpt_0004000.safetensors -o checkpoints/sr-detail2-step4000.safetensors --half
frannet export runs/sr-detail2/ckpt_0004000.safetensors -o src/frannet/weights/frannet-sr.safetensors --half
# The autoregressive walk on frannet-sr's frozen encoder (frannet-autoregressive, about 45 minutes)
frannet train configs/autoregressive-sr.toml --resume auto
frannet export runs/autoregressive-sr/ckpt_0004000.safetensors -o src/frannet/weights/frannet-autoregressive.safetensors \
    --half --task upscale
mkdir -p benchmarks/results
frannet eval data/val --json benchmarks/results/eval-sr.json
frannet bench --json benchmarks/results/bench-sr.json
python benchmarks/throughput.py --json benchmarks/results/throughput.json
python benchmarks/restorators.py data/val --crop 96 --samples 4 --steps 1,2,4,8 --json benchmarks/results/restorators.json
