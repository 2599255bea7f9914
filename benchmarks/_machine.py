"""The machine a benchmark ran on, for the header every benchmark prints: the CPU model and its caches as
``lscpu`` reports them, and what fastann read itself (CPUID / sysfs) with the GEMM blocking it derived."""
from __future__ import annotations

import os
import subprocess

LSCPU_FIELDS = ("Model name", "Vendor ID", "CPU family", "Model", "CPU(s)", "Thread(s) per core",
                "L1d cache", "L2 cache", "L3 cache")


def lscpu() -> dict:
    """The fields of LSCPU_FIELDS that ``lscpu`` prints ({} where lscpu is missing or fails)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             env=dict(os.environ, LC_ALL="C")).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in LSCPU_FIELDS and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def describe(fastann=None) -> tuple[list[str], dict]:
    """Header lines and the same facts as a dict (for the results JSON). ``fastann``: the imported package,
    to add its own view of the CPU and the GEMM blocking in use."""
    cpu = lscpu()
    lines = []
    if cpu:
        lines.append(f"CPU: {cpu.get('Model name', '?')} ({cpu.get('Vendor ID', '?')} family "
                     f"{cpu.get('CPU family', '?')} model {cpu.get('Model', '?')}), {cpu.get('CPU(s)', '?')} CPUs, "
                     f"{cpu.get('Thread(s) per core', '?')} thread(s) per core")
        lines.append(f"caches (lscpu, summed over instances): L1d {cpu.get('L1d cache', '?')}, "
                     f"L2 {cpu.get('L2 cache', '?')}, L3 {cpu.get('L3 cache', '?')}")
    else:
        lines.append("CPU: lscpu not available")
    facts = {"lscpu": cpu}
    if fastann is not None:
        info = fastann.build_info()
        c, b = info["cpu_caches"], info["gemm_blocking"]["float32"]
        lines.append(f"fastann sees: {info['cpu']}, L1d {c['l1d'] >> 10} KiB, L2 {c['l2'] >> 10} KiB, "
                     f"L3 {c['l3'] >> 10} KiB per instance ({c['source']}); SIMD {info['simd']}; fp32 GEMM "
                     f"blocking MR x NR {b['mr']} x {b['nr']}, KC {b['kc']}, MC {b['mc']}, NC {b['nc']} ({b['rule']})")
        facts.update(cpu=info["cpu"], cpu_id=info["cpu_id"], cpu_caches=c, gemm_blocking=info["gemm_blocking"],
                     simd=info["simd"])
    return lines, facts
