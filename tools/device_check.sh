#!/usr/bin/env bash
# The GPU checks, as one prepared run for a lent CUDA machine (the device tool; docs/benchmarks.md "On a GPU"):
#   1. the conformance suite against the reference with every model on CUDA (--bert-device cuda): float64,
#      float32, float16 and bfloat16 clauses, eager and sdpa, against the float64 CPU oracle;
#   2. the benchmark suites on CUDA (the seed's shapes in float16, reference and transformers side by side).
# Results land in $OUT (default ./out): conformance-cuda.{json,md}, cuda-<date>.{json,md,png,verdicts.json},
# device_check.log. Run tools/device_wheels.sh first on a machine with a package index, then carry .whl:
#
#   run(command="tools/device_check.sh", carry=[".whl"], timeout_s=590)
#
# DEVICE_CHECK_DEVICE=cpu exercises the same path on a CPU machine (the benchmarks in --smoke mode).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/out}"
DEVICE="${DEVICE_CHECK_DEVICE:-cuda}"
SITE="${DEVICE_CHECK_SITE:-/tmp/site}"
mkdir -p "$OUT"
LOG="$OUT/device_check.log"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
started=$SECONDS
{
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
    || { echo "device_check: installing .whl/ failed (run tools/device_wheels.sh, carry .whl)"; exit 2; }
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  python3 - <<'PY'
import platform, torch, transformers
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "transformers", transformers.__version__)
print("device:", torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device")
PY
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  workers=$(( $(nproc) > 8 ? 8 : $(nproc) ))
  echo "== conformance: reference on $DEVICE ($workers workers)"
  timeout 240 python3 -m pytest --pyargs bert_conformance.clauses --bert-device "$DEVICE" -n "$workers" \
    -p no:cacheprovider -q -rfE --bert-report "$OUT/conformance-$DEVICE.json" 2>&1 | tail -60
  echo "== conformance exit ${PIPESTATUS[0]} after $((SECONDS - started)) s"
  echo "== benchmarks on $DEVICE"
  if [ "$DEVICE" = cuda ]; then bench=(--device cuda); else bench=(--device cpu --smoke); fi
  timeout 300 python3 -m benchmarks run "${bench[@]}" --out "$OUT" 2>&1 | tail -80
  echo "== benchmarks exit ${PIPESTATUS[0]} after $((SECONDS - started)) s"
} 2>&1 | tee "$LOG"
