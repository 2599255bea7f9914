#!/usr/bin/env bash
# run_gpu.sh: on a GPU machine (no registry access needed), build and install fastann with its CUDA module,
# run the whole test suite (GPU tests included) and the CUDA benchmarks, in one go.
#
#     bash benchmarks/run_gpu.sh            # OUT=<dir> to collect logs and JSON there (default benchmarks/results)
#
# Needs pybind11, scikit-build-core, cmake, ninja, CuPy (and PyTorch for the model benchmarks) installed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
export CUPY_TF32=0   # cuBLAS peers without TF32

echo "== nvidia-smi"; nvidia-smi -L || true
echo "== build + install (pip --no-build-isolation)"
start=$(date +%s)
# Only this GPU's architecture: faster than the default list, and what we benchmark.
CC=$(python -c "import cupy; d=cupy.cuda.Device(0); print(d.compute_capability)" 2>/dev/null || echo "80;90")
CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=${CC} ${CMAKE_ARGS:-}" FASTANN_CUDA=ON \
  python -m pip install --no-build-isolation --no-deps -v . > "$OUT/build.log" 2>&1
rc=$?
echo "build rc=$rc in $(( $(date +%s) - start )) s (log: $OUT/build.log)"
[ $rc -eq 0 ] || { tail -50 "$OUT/build.log"; exit $rc; }

# Run from outside the source tree so the installed package (with _cuda) is imported.
ROOT=$(pwd)
cd /tmp
python -c "import fastann, json; print(json.dumps(fastann.build_info(), indent=1))"
echo "== tests"
python -m pytest -q -rs "$ROOT/tests" -p no:cacheprovider 2>&1 | tee "$ROOT/$OUT/tests.log" | tail -40
echo "== CUDA GEMM benchmark"
python "$ROOT/benchmarks/bench_gemm_cuda.py" 2>&1 | tee "$ROOT/$OUT/bench_gemm_cuda.log"
# Other CUDA-only benchmark scripts (bench_conv_cuda.py, ...).
for f in "$ROOT"/benchmarks/bench_*_cuda.py; do
  [ "$(basename "$f")" = bench_gemm_cuda.py ] && continue
  echo "== $(basename "$f")"
  python "$f" 2>&1 | tee "$ROOT/$OUT/$(basename "$f" .py).log"
done
# The other benchmarks take --device cuda where their owners added it: bench_mlp and bench_cnn train the
# models on the GPU against PyTorch CUDA (TF32 off) and write results/bench_{mlp,cnn}_cuda.json.
for b in bench_conv bench_mlp bench_cnn; do
  if [ -f "$ROOT/benchmarks/$b.py" ] && grep -q -- "--device" "$ROOT/benchmarks/$b.py"; then
    echo "== $b --device cuda"
    python "$ROOT/benchmarks/$b.py" --device cuda 2>&1 | tee "$ROOT/$OUT/$b.cuda.log"
  fi
done
cp -r "$ROOT/benchmarks/results/"*.json "$ROOT/$OUT/" 2>/dev/null || true
