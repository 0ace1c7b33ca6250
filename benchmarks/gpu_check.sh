#!/usr/bin/env bash
# The one-shot GPU check (docs: ../shared/design/DEVICES.md §9), for a machine with an NVIDIA GPU,
# CuPy and a CUDA build of torch. Writes gpu_check.json (and pytest_tail.txt) into the folder
# given as $1, else $OUT, else benchmarks/results/gpu_check; prints a short summary.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR [gpu_check.py options]]  # about 8 minutes at most
#   PARTS=env,kernels,train bash benchmarks/gpu_check.sh  # some parts (DEVICES.md: 1, 2, 4, 6)
#   PYTHON=/path/to/python bash benchmarks/gpu_check.sh   # an interpreter other than python3
#   bash benchmarks/gpu_check.sh /tmp/out --fake          # the fake device (no GPU needed)
set -u
cd "$(dirname "$0")/.."
out="${1:-${OUT:-benchmarks/results/gpu_check}}"
shift || true
mkdir -p "$out"
py="${PYTHON:-python3}"
# CuPy compiles its kernels with NVRTC on first use: keep the cache in the work tree, so that a
# rerun on the same machine starts warm
export CUPY_CACHE_DIR="${CUPY_CACHE_DIR:-$PWD/.cupy_cache}"
# bit-comparable float32 GEMMs with torch (TF32 is off in torch too)
export CUPY_TF32=0
# a folder of wheels' contents carried along (ml_dtypes, if the GPU machine's Python lacks it)
if [ -d .gpu_deps ]; then export PYTHONPATH="$PWD/.gpu_deps${PYTHONPATH:+:$PYTHONPATH}"; fi

echo "== nvidia-smi"; timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv 2>&1 | head -5
echo "== python: $("$py" -c 'import sys; print(sys.version.split()[0])' 2>&1)"
"$py" - <<'PY' 2>&1
import importlib
for name in ("numpy", "ml_dtypes", "cupy", "torch"):
    try:
        print(f"   {name} {importlib.import_module(name).__version__}")
    except Exception as e:
        print(f"   {name}: MISSING ({type(e).__name__}: {e})")
PY

args=(--out "$out")
if [ -n "${PARTS:-}" ]; then args+=(--parts "$PARTS"); fi
args+=("$@")
json="$out/gpu_check.json"
case " $* " in *" --fake "*) json="$out/gpu_check_fake.json" ;; esac
# the parts keep their own limits (gpu_check.LIMITS); this one stops a hang outside them
timeout -k 10 480 "$py" benchmarks/gpu_check.py "${args[@]}"
status=$?
echo "== exit status $status; results in $json"
"$py" - "$json" <<'PY' 2>&1
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"   no results: {e}")
if "error" in r:
    print("   error:", r["error"])
for part, res in r.get("parts", {}).items():
    brief = {k: res[k] for k in ("ok", "failed", "cases", "summary", "first_failure",
                                 "max_relative_loss_diff", "ratio_ember_over_torch",
                                 "ember_peak_allocated_bytes", "torch_peak_allocated_bytes",
                                 "reported", "sites", "differ", "error") if k in res}
    print(f"   {part}: {brief}")
PY
exit $status
