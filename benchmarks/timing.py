"""Shared by the benchmarks: a rate timer and the machine line they print."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def rate(fn, n_items: int, repeats: int) -> float:
    """Items per second: the median of ``repeats`` timed calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n_items / float(np.median(times))


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    return (
        f"# {cpu_name()}, {os.cpu_count()} CPUs visible; python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
