#!/usr/bin/env bash
# Rebuild the bundled super-resolution model and its figures from nothing but package files
# (about two hours on two CPU cores). Run from the repository root in the project's venv.
set -euo pipefail
python scripts/build_dataset.py --out data
frannet train configs/sr.toml --resume auto
last=$(ls runs/sr/ckpt_*.safetensors | tail -n 1)
frannet export "$last" -o src/frannet/weights/frannet-sr.safetensors --half
mkdir -p benchmarks/results
frannet eval data/val --json benchmarks/results/eval-sr.json
frannet bench --json benchmarks/results/bench-sr.json
python benchmarks/throughput.py --json benchmarks/results/throughput.json
