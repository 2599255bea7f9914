"""Fuzz profiles and the case summary.

Profiles (hypothesis settings): ``quick`` (default, CI: few examples per property, derandomized so a run is
reproducible) and ``long`` (``FASTANN_FUZZ=long`` or ``pytest -m fuzz``: many examples, random seed).
``FASTANN_FUZZ_EXAMPLES`` overrides the examples per property. The number of executed cases (kernel calls
in the worker) per test is printed at the end and written as JSON to ``FASTANN_FUZZ_REPORT`` (default
build/fuzz/last_<profile>.json).
"""
from __future__ import annotations

import os
import platform
import time

import pytest
from hypothesis import HealthCheck, Phase, settings

import _harness as H

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.function_scoped_fixture]
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate]  # no shrinking: failures are collected, not raised
settings.register_profile("fastann-fuzz-quick", max_examples=30, derandomize=True, deadline=None,
                          suppress_health_check=_HEALTH, phases=_PHASES, database=None)
settings.register_profile("fastann-fuzz-long", max_examples=700, derandomize=False, deadline=None,
                          suppress_health_check=_HEALTH, phases=_PHASES, database=None)
_STATE = {"t0": time.time()}


def _profile(config) -> str:
    if os.environ.get("FASTANN_FUZZ", "").lower() == "long":
        return "long"
    expr = config.getoption("markexpr", "") or ""
    return "long" if "fuzz" in expr and "not fuzz" not in expr else "quick"


def pytest_configure(config):
    prof = _profile(config)
    _STATE["profile"] = prof
    n = os.environ.get("FASTANN_FUZZ_EXAMPLES")
    base = settings.get_profile(f"fastann-fuzz-{prof}")
    if n:
        settings.register_profile("fastann-fuzz-custom", base, max_examples=int(n))
        settings.load_profile("fastann-fuzz-custom")
    else:
        settings.load_profile(f"fastann-fuzz-{prof}")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.fuzz)


def _write():
    path = os.environ.get("FASTANN_FUZZ_REPORT") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "fuzz",
        f"last_{_STATE['profile']}.json")
    return path, H.write_summary(path, {"profile": _STATE["profile"],
                                        "max_examples": settings.default.max_examples,
                                        "seconds": round(time.time() - _STATE["t0"], 1),
                                        "simd": (H.WORKER.info or {}).get("simd"),
                                        "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")})


def pytest_runtest_logfinish(nodeid, location):
    if H.COUNTS:  # after every test, so an interrupted long run still leaves its numbers
        _write()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not H.COUNTS:
        return
    path, data = _write()
    tr = terminalreporter
    tr.write_sep("-", f"fastann fuzz ({data['profile']} profile): {data['total_cases']} cases, "
                      f"{sum(data['failure_counts'].values())} failing in "
                      f"{len(data['failure_counts'])} properties, {data['worker_restarts']} worker restarts; {path}")


def pytest_sessionfinish(session, exitstatus):
    H.WORKER.stop()
