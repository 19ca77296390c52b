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

__all__ = [
    "DeviceMemory",
    "Timing",
    "calibrate",
    "device_memory",
    "device_sync",
    "host_rss_bytes",
    "steady_state",
    "timed",
]


@dataclass(frozen=True)
class Timing:
    """Per-call times (seconds) of a steady-state run."""

    per_call: tuple[float, ...]

    @property
    def calls(self) -> int:
        return len(self.per_call)


def timed(fn: Callable[[], Any], sync: Callable[[], None] | None = None) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes (to ``sync()``, where given: the device's queue drained), and its result."""
    start = time.perf_counter()
    result = fn()
    if sync is not None:
        sync()
    return time.perf_counter() - start, result


def calibrate(
    call: Callable[[], Any],
    min_time: float,
    min_calls: int = 10,
    max_calls: int = 100_000,
    sync: Callable[[], None] | None = None,
) -> int:
    """How many calls make a timed loop last at least ``min_time`` seconds.

    >>> calibrate(lambda: None, min_time=0.001) >= 10
    True
    """
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            call()
        if sync is not None:
            sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 10 or n >= max_calls:
            break
        n *= 4
    per_call = elapsed / n
    return int(min(max(min_calls, min_time / max(per_call, 1e-9)), max_calls))


def steady_state(call: Callable[[], Any], calls: int, warmup: int, sync: Callable[[], None] | None = None) -> Timing:
    """Time ``calls`` calls one by one after ``warmup`` untimed ones, with the GC paused; with
    ``sync``, each clock stops after ``sync()`` returns (an accelerator's work finished).

    >>> synced = []
    >>> steady_state(lambda: None, calls=5, warmup=1, sync=lambda: synced.append(1)).calls, len(synced)
    (5, 6)
    """
    for _ in range(warmup):
        call()
    if sync is not None:
        sync()
    clock = time.perf_counter
    times = [0.0] * calls
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside the loop would be charged to one unlucky call
    try:
        for i in range(calls):
            start = clock()
            call()
            if sync is not None:
                sync()
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


@dataclass(frozen=True)
class DeviceMemory:
    """An accelerator's memory in use by TensorFlow (bytes): now, and the peak since the last reset."""

    device: str
    current: int
    peak: int


def device_memory(reset: bool = False) -> DeviceMemory | None:
    """The first GPU's memory (``tf.config.experimental.get_memory_info``), its peak reset first
    where asked; None on a machine without one (the report says "n/a")."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return None
    name = gpus[0].name.replace("/device:", "")
    try:
        if reset:
            tf.config.experimental.reset_memory_stats(name)
        info = tf.config.experimental.get_memory_info(name)
    except (ValueError, RuntimeError):  # a device without memory stats
        return None
    return DeviceMemory(name, int(info["current"]), int(info["peak"]))


def device_sync() -> Callable[[], None] | None:
    """What stops a clock honestly on an accelerator: ``tf.test.experimental.sync_devices`` (it waits
    for every GPU and TPU to finish what was queued), where there is one and TensorFlow has it; None on
    CPUs, whose ops have finished when a step returns.

    >>> import tensorflow as tf
    >>> device_sync() is None or bool(tf.config.list_logical_devices("GPU"))
    True
    """
    import tensorflow as tf

    if not (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")):
        return None
    sync: Callable[[], None] | None = getattr(getattr(tf.test, "experimental", None), "sync_devices", None)
    return sync
