"""Turn fastann .cu files into host C++ for the CPU emulator (see README.md).

    python translate.py out_dir csrc/cuda/gemm.cu [csrc/cuda/conv_dispatch.cu ...]

writes out_dir/<name>_emu.cpp for each: emu.hpp is included first, and every launch
`kernel<<<grid, block[, smem[, stream]]>>>(args)` becomes `::emu::launch(rung, grid, block[, ...])(args)`.
Also writes out_dir/fastann/cuda/reduce.cuh, a copy with its device helpers enabled for the host (put out_dir
first on the include path).
"""
import os
import re
import sys

# kernel name, optional template arguments written right after it (`k<T, 4>`, `k<decltype(f), T>`; no `;`,
# braces or nested `<>`), then the launch configuration.
LAUNCH = re.compile(r"([A-Za-z_][\w:]*(?:<[^;{}<>]*>)?)<<<(.*?)>>>\(", re.S)


def translate(src: str, name: str) -> str:
    out, n = LAUNCH.subn(lambda m: f"::emu::launch({m.group(1)}, {m.group(2)})(", src)
    if "<<<" in out:
        sys.exit(f"translate.py: {name}: a launch the rewrite missed")
    return '#include "emu.hpp"\n' + out


def main(out_dir, cu_paths):
    os.makedirs(os.path.join(out_dir, "fastann", "cuda"), exist_ok=True)
    for cu_path in cu_paths:
        name = os.path.splitext(os.path.basename(cu_path))[0]
        with open(cu_path) as f:
            out = translate(f.read(), name)
        with open(os.path.join(out_dir, f"{name}_emu.cpp"), "w") as f:
            f.write(out)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cu_paths[0])))  # csrc/
    with open(os.path.join(root, "include", "fastann", "cuda", "reduce.cuh")) as f:
        red = f.read().replace("#ifdef __CUDACC__", "#if 1  // emulator: device helpers compiled for the host")
    with open(os.path.join(out_dir, "fastann", "cuda", "reduce.cuh"), "w") as f:
        f.write(red)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
