#!/usr/bin/env bash
# ours against stable-baselines3 TD3 on a CUDA GPU, same recipe, one command (< 5 minutes).
# Run on a GPU machine after `make install`; prints each configuration's figures and ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible')"
"$PY" -c "import torch; print('GPU:', torch.cuda.get_device_name(0))"
for flags in "--precision fp32 --no-compile" "--precision bf16 --no-compile" \
             "--precision bf16 --compile"; do
    echo "== $flags"
    # shellcheck disable=SC2086
    "$PY" bench/throughput.py --quick --device cuda $flags | tail -3
done
