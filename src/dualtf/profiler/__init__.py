"""The same program measured in every mode, side by side.

>>> from dualtf.profiler import profile
>>> from dualtf.examples import constants
>>> report = profile(constants, modes=["graph", "function"], steps=10)
>>> sorted(row.mode for row in report.rows)
['function', 'graph']
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._api import backend
from .._errors import DualTFError, UnsupportedCombinationError, check_int, format_error
from .._modes import available_modes, parse_modes
from .._paths import writable_dir
from .._tf_private import require_tensorflow
from ..program import FeedValues, Program, checked_step, failing_in, feed_arguments
from .report import ModeProfile, ProfileReport

__all__ = ["ModeProfile", "ProfileReport", "profile"]


def _batch_size(step: Any, values: list[Any]) -> int | None:
    """Examples one call takes: the first ``None`` dimension's size (after a fused step's steps axis)."""
    axis = 1 if step.steps_per_call > 1 else 0
    for feed, value in zip(step.feeds, values, strict=True):
        if feed.shape and len(feed.shape) > axis and feed.shape[axis] is None and getattr(value, "ndim", 0) > axis:
            return int(value.shape[axis]) * int(step.steps_per_call)
    return None


def _device_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return f"GPU ({details.get('device_name', gpus[0].name)})"
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def profile(
    program: Program,
    feeds: FeedValues | None = None,
    *,
    modes: Sequence[str] | None = None,
    strategies: Sequence[Any] | None = None,
    steps: int | None = None,
    warmup: int = 3,
    min_time: float = 0.5,
    trace_dir: str | os.PathLike[str] | None = None,
    seed: int | None = 0,
    name: str | None = None,
    on_mode: Callable[[str, int, int], None] | None = None,
) -> ProfileReport:
    """Measure ``program`` in a fresh backend of each mode.

    For each mode: the build (``program(be)``: graph construction or first
    trace), the first call (XLA compiles here) and the steady state apart.
    ``steps`` timed calls follow ``warmup`` untimed ones, with the garbage
    collector paused; with ``steps=None`` the count is calibrated so the timed
    loop lasts at least ``min_time`` seconds. ``feeds`` are one call's values,
    by feed name or in order; they are checked against the program's feeds
    before anything is timed.

    With ``trace_dir``, each mode writes a TensorBoard profile to
    ``trace_dir/<mode>`` and graph mode also a Chrome trace of one step,
    ``trace_dir/graph/step.trace.json`` (open in chrome://tracing or Perfetto).
    ``on_mode(mode, index, total)`` is called as each mode starts.

    ``strategies`` (names from :data:`dualtf.STRATEGIES` or strategy objects;
    default: none) makes one row per mode x strategy cell; cells TensorFlow
    cannot run are listed in :attr:`ProfileReport.skipped` with the reason.

    >>> from dualtf.examples import variables
    >>> report = profile(variables, modes=["eager"], steps=5, warmup=0)
    >>> report.rows[0].calls, report.rows[0].traces
    (5, None)
    """
    require_tensorflow()
    import tensorflow as tf

    from . import measure

    if not callable(program):
        raise DualTFError(format_error("The program", "callable (a function taking a backend)", type(program).__name__))
    if steps is not None:
        check_int("steps", steps, 1)
    check_int("warmup", warmup, 0)
    if not isinstance(min_time, (int, float)) or min_time <= 0:
        raise DualTFError(format_error("`min_time`", "a positive number of seconds", f"min_time={min_time!r}"))
    chosen = available_modes() if modes is None else parse_modes(modes, "`modes` of profile()")
    out_dir = writable_dir(trace_dir, "`trace_dir`") if trace_dir is not None else None
    feed_arguments(feeds)  # a bad container is refused before any backend is made

    cells = [(mode, strategy) for mode in chosen for strategy in (strategies or [None])]
    rows = []
    skipped = []
    for index, (mode, strategy) in enumerate(cells):
        if on_mode is not None:
            on_mode(
                mode if strategy is None else f"{mode}-{strategy if isinstance(strategy, str) else 'custom'}",
                index,
                len(cells),
            )
        rss_before = measure.host_rss_bytes()
        measure.device_memory(reset=True)
        try:
            be = backend(mode, seed=seed, strategy=strategy)
        except UnsupportedCombinationError as exc:
            skipped.append((mode, str(strategy), str(exc)))
            continue
        with failing_in(mode), be:
            rows.append(_measure_cell(be, program, feeds, steps, warmup, min_time, out_dir, rss_before))
    return ProfileReport(
        program=name or str(getattr(program, "__name__", repr(program))),
        rows=tuple(rows),
        tensorflow=tf.__version__,
        device=_device_name(),
        python=platform.python_version(),
        skipped=tuple(skipped),
    )


def _measure_cell(
    be: Any,
    program: Program,
    feeds: FeedValues | None,
    steps: int | None,
    warmup: int,
    min_time: float,
    out_dir: Path | None,
    rss_before: int,
) -> ModeProfile:
    """One row: ``program`` built, called once and timed in the open backend ``be``."""
    from . import measure
    from .stats import summarize

    build_s, built = measure.timed(lambda: program(be))
    step = checked_step(built)
    args, kwargs = feed_arguments(feeds)
    values = step.bind(*args, **kwargs)  # a FeedError here: nothing timed yet

    def call() -> Any:
        return step(*values)

    sync = measure.device_sync()  # on a GPU, every clock stops when the device has finished
    first_s, _ = measure.timed(call, sync)
    calls = steps if steps is not None else measure.calibrate(call, min_time, sync=sync)
    summary = summarize(measure.steady_state(call, calls, warmup, sync).per_call)
    if out_dir is not None:
        _write_traces(step, call, values, out_dir / be.mode)
    device = measure.device_memory()
    batch = _batch_size(step, values)
    return ModeProfile(
        mode=be.mode,
        strategy=be.strategy_name,
        build_s=build_s,
        first_call_s=first_s,
        median_s=summary.median,
        p10_s=summary.p10,
        p90_s=summary.p90,
        calls=summary.calls,
        examples_per_s=None if batch is None else batch / summary.median,
        traces=step.trace_count,
        op_count=step.op_count,
        host_rss_bytes=(rss_after := measure.host_rss_bytes()),
        host_rss_change_bytes=rss_after - rss_before,
        steps_per_call=step.steps_per_call,
        device_peak_bytes=None if device is None else device.peak,
        device_current_bytes=None if device is None else device.current,
    )


def _write_traces(step: Any, call: Callable[[], Any], values: list[Any], out: Path) -> None:
    import tensorflow as tf

    out.mkdir(parents=True, exist_ok=True)
    tf.profiler.experimental.start(str(out))
    try:
        for _ in range(3):
            call()
    finally:
        tf.profiler.experimental.stop()
    if step.mode == "graph":
        (out / "step.trace.json").write_text(step.chrome_trace(*values))
