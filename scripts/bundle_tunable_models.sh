#!/usr/bin/env bash
# Rebuild the bundled denoising and colour models and their figures from package files alone
# (several hours on two CPU cores; both resume from runs/ if interrupted). Run from the
# repository root in the project's venv, with benchmarks/requirements.txt installed.
set -euo pipefail
python scripts/build_dataset.py --out data
frannet train configs/denoise.toml --resume auto &
frannet train configs/color.toml --resume auto &
wait
for name in denoise color; do
    last=$(ls runs/$name/ckpt_*.safetensors | tail -n 1)
    frannet export "$last" -o src/frannet/weights/frannet-$name.safetensors --half
done
python benchmarks/denoise.py data/val --json benchmarks/results/denoise.json
