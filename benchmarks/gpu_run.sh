#!/usr/bin/env bash
# One prepared GPU session (device tool): E1's full regime map, then the GPU benchmark. Copies the figures and
# tables to $OUT. Needs ml-collections as a wheel in .whl/ (the GPU image lacks it); the package runs from src/.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi -L; python3 -c "import jax; print(jax.__version__, jax.devices())"
E1_LIMIT=${E1_LIMIT:-420}
start=$(date +%s)
# The engine's default depth_mode=segment: one program per method, every depth in it (issue 15).
timeout "$E1_LIMIT" python3 -m sweetspot sweep sweeps/regime_map.py:full --out /tmp/e1 \
  2> >(tee "$OUT/e1_progress.txt" >&2) | tee "$OUT/e1_summary.txt"
echo "E1 wall $(( $(date +%s) - start )) s" | tee -a "$OUT/e1_summary.txt"
if [ -f /tmp/e1/results.csv ]; then
  cp /tmp/e1/results.csv "$OUT/e1_results.csv"; cp /tmp/e1/meta.json "$OUT/e1_meta.json"
  python3 analysis/regime_heatmap.py /tmp/e1 --out /tmp/e1fig && cp /tmp/e1fig/regime_C.png /tmp/e1fig/regime_test_r2.png "$OUT/"
fi
if [ -f benchmarks/gpu_check.py ]; then
  timeout "${BENCH_LIMIT:-150}" python3 benchmarks/gpu_check.py --out "$OUT" --e1-meta /tmp/e1/meta.json 2>&1 | tail -40
fi
ls -la "$OUT"
