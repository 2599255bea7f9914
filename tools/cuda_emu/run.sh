#!/usr/bin/env bash
# Run fastann's CUDA kernels on the CPU under the emulator (emu.hpp) and compare them with references / the CPU
# kernels. A development aid for machines without a GPU, not part of the test suite. See README.md.
#   bash tools/cuda_emu/run.sh [gemm|dense|loss_softmax|elementwise|embedding|layer_norm_adafactor|conv|pool|up|
#        norm|norm2|rnn|all] [--quick]
# dense = loss_softmax + elementwise + embedding. --quick (gemm, conv, pool, up, norm) runs a small subset.
# Needs g++ >= 12 (C++20 <barrier>, std::atomic_ref<float>) and the CUDA headers (no CUDA library is linked:
# runtime.cpp stands in for the runtime calls).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$ROOT/build/cuda_emu}
what=${1:-all}
quick=""
for a in "$@"; do [ "$a" = --quick ] && quick=--quick; done
[ "$what" = --quick ] && what=all
mkdir -p "$OUT"
cp "$HERE/emu.hpp" "$OUT/"
# The CUDA toolkit headers: $CUDA_HOME, else /usr/local/cuda, else the directory above nvcc's bin/.
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
[ -f "$CUDA_HOME/include/cuda_runtime_api.h" ] || CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
# $OUT comes first: it holds the translated files' emu.hpp and the host-enabled copy of reduce.cuh.
FLAGS="-std=c++20 -O1 -pthread -w -I$OUT -I$ROOT/csrc/include -I$CUDA_HOME/include"
want() { for w in "$@"; do [ "$what" = "$w" ] && return 0; done; [ "$what" = all ]; }
translate() { python3 "$HERE/translate.py" "$OUT" "${@/#/$ROOT/csrc/cuda/}"; }

if want gemm; then
  translate gemm.cu
  g++ $FLAGS "$OUT/gemm_emu.cpp" "$HERE/check_gemm.cpp" "$HERE/runtime.cpp" -o "$OUT/check_gemm"
  "$OUT/check_gemm" $quick
fi
if want dense loss_softmax; then
  translate loss.cu softmax.cu
  g++ $FLAGS -fopenmp "$OUT/loss_emu.cpp" "$OUT/softmax_emu.cpp" "$HERE/check_loss_softmax.cpp" "$HERE/runtime.cpp" \
      "$ROOT/csrc/cpu/loss.cpp" "$ROOT/csrc/cpu/softmax.cpp" "$ROOT/csrc/cpu/runtime.cpp" -o "$OUT/check_loss_softmax"
  "$OUT/check_loss_softmax"
fi
if want dense elementwise; then
  translate activation.cu dropout.cu optim.cu
  # The CPU peers' ISA-specific files, with the flags CMakeLists.txt gives them.
  isa_objs=()
  for f in activation dropout optim; do
    g++ $FLAGS -fopenmp -c "$ROOT/csrc/cpu/${f}_scalar.cpp" -o "$OUT/${f}_scalar.o"; isa_objs+=("$OUT/${f}_scalar.o")
    if [ -f "$ROOT/csrc/cpu/${f}_avx2.cpp" ]; then
      g++ $FLAGS -fopenmp -mavx2 -mfma -mf16c -mbmi2 -c "$ROOT/csrc/cpu/${f}_avx2.cpp" -o "$OUT/${f}_avx2.o"; isa_objs+=("$OUT/${f}_avx2.o")
    fi
    if [ -f "$ROOT/csrc/cpu/${f}_avx512.cpp" ]; then
      g++ $FLAGS -fopenmp -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c -mbmi2 -c "$ROOT/csrc/cpu/${f}_avx512.cpp" \
          -o "$OUT/${f}_avx512.o"; isa_objs+=("$OUT/${f}_avx512.o")
    fi
  done
  g++ $FLAGS -fopenmp "$OUT/activation_emu.cpp" "$OUT/dropout_emu.cpp" "$OUT/optim_emu.cpp" "$HERE/check_elementwise.cpp" \
      "$HERE/runtime.cpp" "$ROOT/csrc/cpu/activation.cpp" "$ROOT/csrc/cpu/dropout.cpp" "$ROOT/csrc/cpu/optim.cpp" \
      "$ROOT/csrc/cpu/runtime.cpp" -o "$OUT/check_elementwise" -Wl,--start-group "${isa_objs[@]}" -Wl,--end-group
  "$OUT/check_elementwise"
fi
if want layer_norm_adafactor; then
  translate layer_norm.cu optim_adafactor.cu prelu.cu
  isa_objs=()
  for f in layer_norm optim; do
    g++ $FLAGS -fopenmp -c "$ROOT/csrc/cpu/${f}_scalar.cpp" -o "$OUT/${f}_scalar.o"; isa_objs+=("$OUT/${f}_scalar.o")
    g++ $FLAGS -fopenmp -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c -mbmi2 \
        -c "$ROOT/csrc/cpu/${f}_avx512.cpp" -o "$OUT/${f}_avx512.o"; isa_objs+=("$OUT/${f}_avx512.o")
  done
  g++ $FLAGS -fopenmp -mavx2 -mfma -mf16c -mbmi2 -c "$ROOT/csrc/cpu/optim_avx2.cpp" -o "$OUT/optim_avx2.o"
  isa_objs+=("$OUT/optim_avx2.o")
  g++ $FLAGS -fopenmp "$OUT/layer_norm_emu.cpp" "$OUT/optim_adafactor_emu.cpp" "$OUT/prelu_emu.cpp" \
      "$HERE/check_layer_norm_adafactor.cpp" "$HERE/runtime.cpp" "$ROOT/csrc/cpu/layer_norm.cpp" \
      "$ROOT/csrc/cpu/optim.cpp" "$ROOT/csrc/cpu/prelu.cpp" "$ROOT/csrc/cpu/runtime.cpp" \
      -o "$OUT/check_layer_norm_adafactor" -Wl,--start-group "${isa_objs[@]}" -Wl,--end-group
  "$OUT/check_layer_norm_adafactor"
fi
if want dense embedding; then
  translate embedding.cu
  g++ $FLAGS -fopenmp "$OUT/embedding_emu.cpp" "$HERE/check_embedding.cpp" "$HERE/runtime.cpp" \
      "$ROOT/csrc/cpu/embedding.cpp" "$ROOT/csrc/cpu/runtime.cpp" -o "$OUT/check_embedding"
  "$OUT/check_embedding"
fi
if want conv pool up norm norm2; then
  # A shared library with a C ABI (conv_pool_norm_api.cpp) that check_conv_pool_norm.py drives through ctypes
  # against the NumPy float64 references. Its GEMM is a reference loop, not the emulated gemm.cu.
  conv_files=(conv_dispatch conv_rung1_direct conv_rung2_im2col_gemm conv_rung3_implicit_gemm upsample)
  translate "${conv_files[@]/%/.cu}" pool.cu norm.cu
  # -I csrc/cuda: the conv files' internal header (conv_common.cuh), which has no launches to translate
  objs=()
  for f in "${conv_files[@]}" pool norm; do
    g++ $FLAGS -I"$ROOT/csrc/cuda" -fPIC -c "$OUT/${f}_emu.cpp" -o "$OUT/${f}_emu.o"; objs+=("$OUT/${f}_emu.o")
  done
  g++ $FLAGS -fPIC -c "$HERE/conv_pool_norm_api.cpp" -o "$OUT/conv_pool_norm_api.o"
  g++ $FLAGS -fPIC -c "$HERE/runtime.cpp" -o "$OUT/runtime.o"
  g++ -shared -pthread -o "$OUT/libemu_conv_pool_norm.so" "${objs[@]}" "$OUT/conv_pool_norm_api.o" "$OUT/runtime.o"
  FASTANN_EMU_LIB="$OUT/libemu_conv_pool_norm.so" python3 "$HERE/check_conv_pool_norm.py" "$what" $quick
fi
if want rnn; then
  # The recurrent kernels with their GEMMs on the emulated gemm.cu, driven by check_rnn.py through ctypes
  # (rnn_api.cpp) against the NumPy float64 reference.
  # rnn_cells.cuh has launches too: its translation sits next to the translated .cu files, which find it first.
  translate rnn_dispatch.cu rnn_rung1_naive.cu rnn_rung2_gemm.cu gemm.cu rnn_cells.cuh
  mv "$OUT/rnn_cells_emu.cpp" "$OUT/rnn_cells.cuh"
  objs=()
  for f in rnn_dispatch rnn_rung1_naive rnn_rung2_gemm gemm; do
    g++ $FLAGS -I"$ROOT/csrc/cuda" -fPIC -c "$OUT/${f}_emu.cpp" -o "$OUT/${f}_emu.o"; objs+=("$OUT/${f}_emu.o")
  done
  g++ $FLAGS -fPIC -c "$HERE/rnn_api.cpp" -o "$OUT/rnn_api.o"
  g++ $FLAGS -fPIC -c "$HERE/runtime.cpp" -o "$OUT/runtime.o"
  g++ -shared -pthread -o "$OUT/libemu_rnn.so" "${objs[@]}" "$OUT/rnn_api.o" "$OUT/runtime.o"
  FASTANN_EMU_LIB="$OUT/libemu_rnn.so" python3 "$HERE/check_rnn.py" $quick
fi
