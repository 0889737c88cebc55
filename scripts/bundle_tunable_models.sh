#!/usr/bin/env bash
# Rebuild the bundled denoising and colour models and their figures from package files alone
# (many hours on two CPU cores; every run resumes from runs/ if interrupted). Run from the
# repository root in the project's venv, with benchmarks/requirements.txt installed.
set -euo pipefail
python scripts/build_dataset.py --out data
OMP_NUM_THREADS=1 frannet train configs/denoise.toml --resume auto &
OMP_NUM_THREADS=1 frannet train configs/color.toml --resume auto &
wait
# the sigma-25 specialist: only for the dial's comparison in the benchmark
OMP_NUM_THREADS=2 frannet train configs/denoise-sigma25.toml --resume auto
export_last() {  # export_last RUN_DIR MODEL_FILE: the run's newest checkpoint as a half-precision model
    frannet export "$(ls "$1"/ckpt_*.safetensors | tail -n 1)" -o "$2" --half
}
# the denoiser's phases 2 and 3, each from the previous one's EMA
export_last runs/denoise-u2 checkpoints/denoise-u2-step6000.safetensors
OMP_NUM_THREADS=1 frannet train configs/denoise-deep.toml --resume auto
export_last runs/denoise-deep checkpoints/denoise-deep-step3000.safetensors
OMP_NUM_THREADS=1 frannet train configs/denoise-corpus.toml --resume auto
export_last runs/denoise-corpus src/frannet/weights/frannet-denoise.safetensors
export_last runs/color-u2 src/frannet/weights/frannet-color.safetensors
export_last runs/denoise-sigma25 runs/denoise-sigma25.safetensors
python benchmarks/denoise.py data/val --json benchmarks/results/denoise.json --specialist runs/denoise-sigma25.safetensors
