#!/usr/bin/env bash
# Run fastann's CUDA kernels on the CPU under the emulator and compare them with references / the CPU kernels.
# Slow (one OS thread per CUDA thread: several minutes); a development aid for machines without a GPU, not part
# of the test suite. Usage: bash tools/cuda_emu/run.sh [gemm|loss_softmax|elementwise|all]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-/tmp/fastann_cuda_emu}
mkdir -p "$OUT"
cp "$HERE/emu.hpp" "$OUT/"
# The CUDA toolkit: $CUDA_HOME, else /usr/local/cuda, else the directory above nvcc's bin/.
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
[ -f "$CUDA_HOME/include/cuda_runtime_api.h" ] || CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
CUDA_INC=$CUDA_HOME/include
CUDA_LIB=$CUDA_HOME/lib64
FLAGS="-std=c++20 -O1 -pthread -fopenmp -I$OUT -I$ROOT/csrc/include -I$CUDA_INC"
LIBS="-L$CUDA_LIB -lcudart_static -ldl -lrt"
what=${1:-all}
if [ "$what" = gemm ] || [ "$what" = all ]; then
  python3 "$HERE/translate.py" "$ROOT/csrc/cuda/gemm.cu" "$OUT"
  g++ $FLAGS "$OUT/gemm_emu.cpp" "$HERE/check_gemm.cpp" -o "$OUT/check_gemm" $LIBS
  "$OUT/check_gemm"
fi
if [ "$what" = loss_softmax ] || [ "$what" = all ]; then
  python3 "$HERE/translate.py" "$ROOT/csrc/cuda/loss.cu" "$OUT"
  python3 "$HERE/translate.py" "$ROOT/csrc/cuda/softmax.cu" "$OUT"
  g++ $FLAGS "$OUT/loss_emu.cpp" "$OUT/softmax_emu.cpp" "$HERE/check_loss_softmax.cpp" "$ROOT/csrc/cpu/loss.cpp" \
      "$ROOT/csrc/cpu/softmax.cpp" "$ROOT/csrc/cpu/runtime.cpp" -o "$OUT/check_loss_softmax" $LIBS
  "$OUT/check_loss_softmax"
fi
if [ "$what" = elementwise ] || [ "$what" = all ]; then
  for f in activation dropout optim; do python3 "$HERE/translate.py" "$ROOT/csrc/cuda/$f.cu" "$OUT"; done
  g++ $FLAGS -mavx2 -mfma -c "$ROOT/csrc/cpu/optim_avx2.cpp" -o "$OUT/optim_avx2.o"
  g++ $FLAGS -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -c "$ROOT/csrc/cpu/optim_avx512.cpp" -o "$OUT/optim_avx512.o"
  g++ $FLAGS "$OUT/activation_emu.cpp" "$OUT/dropout_emu.cpp" "$OUT/optim_emu.cpp" "$HERE/check_elementwise.cpp" \
      "$ROOT/csrc/cpu/activation.cpp" "$ROOT/csrc/cpu/dropout.cpp" "$ROOT/csrc/cpu/optim.cpp" "$ROOT/csrc/cpu/runtime.cpp" \
      -o "$OUT/check_elementwise" $LIBS -Wl,--start-group "$OUT/optim_avx2.o" "$OUT/optim_avx512.o" -Wl,--end-group
  "$OUT/check_elementwise"
fi
