"""Fail when a symbol of the CPU module is defined both in a file compiled for one ISA and in another file.

    python tools/check_isa_symbols.py OBJECT.o ...      (the build runs it on _cpu's objects after linking)

Files named *_avx512.cpp / *_avx2.cpp are compiled with that ISA's flags (CMakeLists.txt). An inline function or
a template instantiation defined in several object files is a weak symbol, and the linker keeps ONE copy: the
first in link order. If that copy comes from an AVX2 or AVX-512 file while a baseline (or other-ISA) file also
calls it, the baseline path runs AVX code and dies with SIGILL on a CPU without it; the other way round, the
fast path silently runs baseline code. Header helpers used by several ISAs must therefore have internal linkage
(an anonymous namespace) or be forced inline (csrc/cpu/gemm_packed.hpp explains). Symbols of the standard
library and of pybind11 are left out: the ISA files do not instantiate the same ones as the baseline files; so is
DW.ref.__gxx_personality_v0, the pointer to the C++ exception personality routine that builds with debug
information (RelWithDebInfo, Debug) put in every object that has exception tables: data, not code.
Exit status 1 (with the list) when such a symbol exists, 0 otherwise; 0 with a note when `nm` is missing or
cannot read an object.
"""
from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys

IGNORED_PREFIXES = ("std::", "__gnu_cxx::", "pybind11::", "typeinfo", "vtable", "guard variable", "operator",
                    "DW.ref.__gxx_personality_v0")


def isa_of(path: str) -> str:
    name = os.path.basename(path).split(".")[0]
    return "avx512" if name.endswith("_avx512") else "avx2" if name.endswith("_avx2") else "baseline"


def shared_symbols(objects: list[str]) -> dict[str, list[str]] | None:
    """{weak symbol: the objects defining it} for symbols defined in files of more than one ISA; None when nm
    cannot read one of the objects (e.g. LTO objects without the linker plugin)."""
    where = collections.defaultdict(list)
    for obj in objects:
        run = subprocess.run(["nm", "-C", "--defined-only", obj], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"check_isa_symbols: nm could not read {os.path.basename(obj)} ({run.stderr.strip()[:200]}), "
                  "check skipped")
            return None
        for line in run.stdout.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in ("W", "V") and not parts[2].startswith(IGNORED_PREFIXES):
                where[parts[2]].append(obj)
    return {sym: objs for sym, objs in where.items() if len({isa_of(o) for o in objs}) > 1}


def main(argv: list[str]) -> int:
    if shutil.which("nm") is None:
        print("check_isa_symbols: nm not found, check skipped")
        return 0
    bad = shared_symbols(argv)
    if bad is None:
        return 0
    for sym, objs in sorted(bad.items()):
        print(f"check_isa_symbols: {sym} is defined in " + ", ".join(os.path.basename(o) for o in objs))
    if bad:
        print(f"check_isa_symbols: {len(bad)} symbol(s) shared between files compiled for different ISAs; give "
              "them internal linkage (an anonymous namespace) or force them inline")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
