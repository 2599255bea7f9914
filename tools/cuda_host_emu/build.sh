#!/usr/bin/env bash
# build.sh: compile csrc/cuda/{conv,pool,norm}.cu for the HOST under the emulation layer of cuda_emu.hpp into
# build/cuda_host_emu/libemu.so (a C ABI, see api.cpp), so check.py can run the kernels without a GPU.
# Needs g++ >= 12 (C++20 <barrier>, atomic_ref<float>) and the CUDA headers (for cuda_runtime_api.h and
# vector_types.h only; nothing links against the CUDA runtime).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tools/cuda_host_emu"
OUT="$ROOT/build/cuda_host_emu"
CUDA_INC=${CUDA_INC:-$(dirname "$(readlink -f "$(command -v nvcc)")")/../include}
[ -f "$CUDA_INC/cuda_runtime_api.h" ] || CUDA_INC=/usr/local/cuda/include
mkdir -p "$OUT"
# `kernel<<<grid, block, smem, stream>>>(args)` -> `::emu::launch(kernel, grid, block, smem, stream)(args)`
python3 - "$ROOT" "$OUT" <<'PY'
import re, sys
root, out = sys.argv[1], sys.argv[2]
pat = re.compile(r"(\w+(?:<[\w\s,:]*>)?)<<<([^;]*?)>>>\(")
for name in ["conv", "pool", "norm"]:
    s = open(f"{root}/csrc/cuda/{name}.cu").read()
    s, n = pat.subn(lambda m: f"::emu::launch({m.group(1)}, {m.group(2)})(", s)
    assert "<<<" not in s, f"{name}.cu: a launch the rewrite missed"
    open(f"{out}/gen_{name}.cpp", "w").write(s)
PY
FLAGS="-std=c++20 -O1 -fPIC -w -I$ROOT/csrc/include -I$CUDA_INC"
for f in conv pool norm; do
  g++ $FLAGS -include "$HERE/cuda_emu.hpp" -c "$OUT/gen_$f.cpp" -o "$OUT/gen_$f.o" &
done
g++ $FLAGS -c "$HERE/api.cpp" -o "$OUT/api.o" &
g++ $FLAGS -c "$HERE/runtime.cpp" -o "$OUT/runtime.o" &
wait
g++ -shared -o "$OUT/libemu.so" "$OUT"/gen_*.o "$OUT/api.o" "$OUT/runtime.o" -lpthread
echo "built $OUT/libemu.so"
