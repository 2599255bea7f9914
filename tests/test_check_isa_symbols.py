"""tools/check_isa_symbols.py, the build's check that no weak symbol is shared by files compiled for different
ISAs, on small objects compiled here: it must flag an inline function defined by a baseline file and an
``*_avx2`` file, and pass a symbol of one ISA only, an inline function kept internal (anonymous namespace),
and the exception-personality reference that builds with debug information put in every object."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "check_isa_symbols.py")

pytestmark = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("nm") is None,
                                reason="needs g++ and nm")

# NAME: the file's name, so that each object's own functions differ
SHARED_INLINE = "inline int twice(int x) { return 2 * x; }\nint use_NAME(int x) { return twice(x); }\n"
INTERNAL_INLINE = ("namespace { inline int twice(int x) { return 2 * x; } }\n"
                   "int use_NAME(int x) { return twice(x); }\n")
# throws and catches, so the object has exception tables (and, with -g, DW.ref.__gxx_personality_v0)
WITH_EXCEPTIONS = ("#include <stdexcept>\nint risky_NAME(int x) { if (x < 0) throw std::runtime_error(\"x\"); "
                   "return x; }\nint safe_NAME(int x) { try { return risky_NAME(x); } catch (...) { return 0; } }\n")


def compile_objects(tmp_path, source, names, flags=()):
    objects = []
    for name in names:
        cpp = tmp_path / f"{name}.cpp"
        cpp.write_text(source.replace("NAME", name))
        obj = tmp_path / f"{name}.cpp.o"
        # -O0: the inline function is not inlined away, so each object defines it (a weak symbol)
        subprocess.run(["g++", "-c", "-O0", "-fPIC", *flags, str(cpp), "-o", str(obj)], check=True)
        objects.append(str(obj))
    return objects


def run_tool(objects):
    return subprocess.run([sys.executable, TOOL, *objects], capture_output=True, text=True)


def test_flags_an_inline_function_shared_by_two_isas(tmp_path):
    run = run_tool(compile_objects(tmp_path, SHARED_INLINE, ["gemm", "gemm_avx2"]))
    assert run.returncode == 1, run.stdout
    assert "twice(int) is defined in gemm.cpp.o, gemm_avx2.cpp.o" in run.stdout


def test_passes_symbols_of_one_isa_and_internal_ones(tmp_path):
    assert run_tool(compile_objects(tmp_path, SHARED_INLINE, ["loss_avx2", "softmax_avx2"])).returncode == 0
    run = run_tool(compile_objects(tmp_path, INTERNAL_INLINE, ["pool", "pool_avx512"]))
    assert run.returncode == 0, run.stdout


def test_passes_the_personality_reference_of_debug_builds(tmp_path):
    objects = compile_objects(tmp_path, WITH_EXCEPTIONS, ["norm", "norm_avx512"], flags=("-g",))
    symbols = subprocess.run(["nm", objects[0]], capture_output=True, text=True).stdout
    if "DW.ref.__gxx_personality_v0" not in symbols:
        pytest.skip("this compiler does not emit DW.ref.__gxx_personality_v0")
    run = run_tool(objects)
    assert run.returncode == 0, run.stdout
