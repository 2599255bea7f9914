"""Turn a fastann .cu file into host C++ for the CPU emulator (see README.md).

    python translate.py csrc/cuda/gemm.cu out_dir/

writes out_dir/gemm_emu.cpp: `kernel<<<grid, block, smem, stream>>>(args);` becomes
`emu_launch(kernel, dim3(grid), dim3(block), args);`, and emu.hpp is included first. Also writes a copy of
fastann/cuda/reduce.cuh with its device helpers enabled for host compilation.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCH = re.compile(r"([A-Za-z_][\w:]*(?:<[^;]*?>)?)<<<(.*?)>>>\((.*?)\);", re.S)


def split_top(s):
    """Split on commas not nested in (), <> or []."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "(<[" and 1 or 0
        depth -= ch in ")>]" and 1 or 0
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return parts + [cur.strip()]


def translate(src: str) -> str:
    def rep(m):
        kernel, cfg, args = m.group(1), split_top(m.group(2)), m.group(3)
        return f"emu_launch({kernel}, dim3({cfg[0]}), dim3({cfg[1]}), {args});"

    header = ('#include "emu.hpp"\n#include <cmath>\n'
              "using std::exp; using std::log; using std::log1p; using std::fabs; using std::sqrt;\n")
    return header + LAUNCH.sub(rep, src)


def main(cu_path, out_dir):
    os.makedirs(os.path.join(out_dir, "fastann", "cuda"), exist_ok=True)
    name = os.path.splitext(os.path.basename(cu_path))[0]
    with open(cu_path) as f:
        out = translate(f.read())
    with open(os.path.join(out_dir, f"{name}_emu.cpp"), "w") as f:
        f.write(out)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cu_path)))  # csrc/
    with open(os.path.join(root, "include", "fastann", "cuda", "reduce.cuh")) as f:
        red = f.read().replace("#ifdef __CUDACC__", "#if 1  // emulator: device helpers compiled for the host")
    with open(os.path.join(out_dir, "fastann", "cuda", "reduce.cuh"), "w") as f:
        f.write(red)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
