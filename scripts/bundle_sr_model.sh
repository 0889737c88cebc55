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
# Phases 3 to 8, each from the previous one's EMA: train configs/NAME.toml for STEPS steps and keep
# its EMA as checkpoints/NAME-stepSTEPS.safetensors (the next config's init)
phase() {
    frannet train "configs/$1.toml" --resume auto
    frannet export "runs/$1/ckpt_$(printf %07d "$2").safetensors" -o "checkpoints/$1-step$2.safetensors" --half
}
phase sr-jpeg2 1500    # 3: more practice at x2 and at JPEG qualities 30-95
phase sr-l2 3000       # 4: the L2 loss (the mean of the answers, which PSNR rewards), more practice at x1-x2
phase sr-l2b 1500      # 5: a twice-saved example's earlier save at a camera's qualities (85-98)
phase sr-l2c 1000      # 6: two fifths of the JPEG qualities from 80-95, where cameras and the web save
phase sr-detail 5000   # 7: the soft training pictures shrunk until they hold a photo's detail
phase sr-detail2 4000  # 8: a second cosine cycle of phase 7's recipe
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
