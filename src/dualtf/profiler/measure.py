"""Measuring: build, first call and steady state of one step, apart.

Only this module touches clocks. Statistics live in :mod:`.stats`, rendering in
:mod:`.report`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Timing", "calibrate", "host_rss_bytes", "steady_state", "timed"]


@dataclass(frozen=True)
class Timing:
    """Per-call times (seconds) of a steady-state run."""

    per_call: tuple[float, ...]

    @property
    def calls(self) -> int:
        return len(self.per_call)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def calibrate(call: Callable[[], Any], min_time: float, min_calls: int = 10, max_calls: int = 100_000) -> int:
    """How many calls make a timed loop last at least ``min_time`` seconds.

    >>> calibrate(lambda: None, min_time=0.001) >= 10
    True
    """
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 10 or n >= max_calls:
            break
        n *= 4
    per_call = elapsed / n
    return int(min(max(min_calls, min_time / max(per_call, 1e-9)), max_calls))


def steady_state(call: Callable[[], Any], calls: int, warmup: int) -> Timing:
    """Time ``calls`` calls one by one after ``warmup`` untimed ones, with the GC paused.

    >>> steady_state(lambda: None, calls=5, warmup=1).calls
    5
    """
    for _ in range(warmup):
        call()
    clock = time.perf_counter
    times = [0.0] * calls
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside the loop would be charged to one unlucky call
    try:
        for i in range(calls):
            start = clock()
            call()
            times[i] = clock() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(tuple(times))


def host_rss_bytes() -> int:
    """The process's resident set size now, in bytes (not the peak, which only grows: a
    mode's figure would then depend on which modes ran before it).

    >>> host_rss_bytes() > 0
    True
    """
    import psutil

    gc.collect()
    return int(psutil.Process().memory_info().rss)


def device_memory(reset: bool = False) -> tuple[str, int] | None:
    """``(device, peak bytes)`` of the first GPU since the last reset, or None on CPU-only machines."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return None
    name = gpus[0].name.replace("/device:", "")
    try:
        if reset:
            tf.config.experimental.reset_memory_stats(name)
        return name, int(tf.config.experimental.get_memory_info(name)["peak"])
    except (ValueError, RuntimeError):  # a device without memory stats
        return None
