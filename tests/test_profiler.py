"""The profiler library, its reports, and the pytest summary, in every mode."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf import examples
from dualtf.profiler import ProfileReport, profile
from dualtf.profiler.measure import calibrate, steady_state
from dualtf.program import load_program

_affine = load_program(f"{Path(__file__).parent / 'programs.py'}:affine")


def test_profile_records_every_figure(dualtf_mode):
    report = profile(_affine, {"x": [[3.0, 4.0]]}, modes=[dualtf_mode], steps=30, warmup=2)
    (row,) = report.rows
    assert row.mode == dualtf_mode and row.strategy == "default"
    assert row.calls == 30
    assert 0 < row.p10_s <= row.median_s <= row.p90_s
    assert row.build_s > 0 and row.first_call_s > 0
    assert row.examples_per_s is None  # the feed's first dimension is fixed: no batch
    assert row.host_rss_bytes > 0 and row.steps_per_call == 1
    if not tf.config.list_logical_devices("GPU"):  # CPU: the device columns say so
        assert row.device_peak_bytes is None and row.device_current_bytes is None
        assert report.table().count("n/a") >= 1
    else:
        assert row.device_peak_bytes >= row.device_current_bytes >= 0
    if dualtf_mode in ("function", "xla"):
        assert row.traces == 1 and row.op_count > 0
    elif dualtf_mode == "graph":
        assert row.traces is None and row.op_count > 0
    else:
        assert row.traces is None and row.op_count is None


def test_on_an_accelerator_every_clock_stops_after_the_device_sync_and_memory_shows(monkeypatch):
    """The accelerator's side, planted on a CPU: a device that synchronizes and reports its memory."""
    from dualtf.profiler import measure

    synced = []
    monkeypatch.setattr(measure, "device_sync", lambda: lambda: synced.append(1))
    monkeypatch.setattr(measure, "device_memory", lambda reset=False: measure.DeviceMemory("GPU:0", 2**20, 3 * 2**20))
    report = profile(_affine, {"x": [[3.0, 4.0]]}, modes=["eager"], steps=7, warmup=2)
    (row,) = report.rows
    assert len(synced) == 1 + 1 + 7  # the first call, after the warmup, each timed call
    assert (row.device_current_bytes, row.device_peak_bytes) == (2**20, 3 * 2**20)
    assert "1.0 / 3.0 MiB" in report.table()


def test_throughput_uses_the_batch_dimension(dualtf_mode):
    report = profile(examples.feeds_sum, {"a": np.arange(8), "b": np.arange(8)}, modes=[dualtf_mode], steps=10)
    row = report.rows[0]
    assert row.examples_per_s == pytest.approx(8 / row.median_s)


def test_calibration_reaches_min_time():
    import time

    n = calibrate(lambda: time.sleep(0.001), min_time=0.05)
    assert 10 <= n <= 60
    timing = steady_state(lambda: time.sleep(0.001), calls=n, warmup=1)
    assert sum(timing.per_call) >= 0.8 * 0.05 * min(n, 50) / 50


def test_report_renders_every_format(tmp_path):
    report = profile(examples.feeds_sum, {"a": [1, 2], "b": [3, 4]}, modes=["graph", "eager"], steps=10)
    table = report.table()
    assert "graph" in table and "eager" in table and "× fastest" in table and "TensorFlow " + tf.__version__ in table
    assert report.ratio(report.fastest) == 1.0
    data = json.loads(report.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == data
    assert [r["mode"] for r in data["rows"]] == ["graph", "eager"] and data["tensorflow"] == tf.__version__
    csv_text = report.to_csv(tmp_path / "r.csv")
    assert csv_text.splitlines()[0].startswith("program,tensorflow,device,mode") and len(csv_text.splitlines()) == 3
    md = report.to_markdown()
    assert md.count("\n| ") == 3 and "| graph |" in md
    png = report.plot(tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # docs/profiling.md's generated tables are this renderer's current output (header and cell formats)
    page = (Path(__file__).parents[1] / "docs" / "profiling.md").read_text()
    generated = page.split("<!-- generated:start -->", 1)[1].split("<!-- generated:end -->", 1)[0]
    headers = [line for line in generated.splitlines() if line.startswith("| mode |")]
    stale = "stale: run python docs/generate_profiling.py"
    header = next(line for line in md.splitlines() if line.startswith("| mode |"))
    assert len(headers) == len(examples.EXAMPLES) and set(headers) == {header}, stale
    rows = [line for line in generated.splitlines() if line.startswith("| ") and not line.startswith("| mode |")]
    ours = [line for line in md.splitlines() if line.startswith("| graph |")][0]
    assert {row.count(" | ") for row in rows} == {ours.count(" | ")}


def test_trace_dir_writes_tensorboard_profiles_and_a_graph_chrome_trace(tmp_path):
    profile(_affine, {"x": [[1.0]]}, modes=["graph", "function"], steps=3, trace_dir=tmp_path)
    for mode in ("graph", "function"):
        assert list((tmp_path / mode).rglob("*.xplane.pb")), mode
    trace = json.loads((tmp_path / "graph" / "step.trace.json").read_text())
    assert any(
        event.get("name") == "MatMul" or "MatMul" in str(event.get("args", {})) for event in trace["traceEvents"]
    )


def test_chrome_trace_is_graph_only(dualtf_backend):
    be = dualtf_backend
    step = be.function(lambda: tf.constant(1.0) + 1.0, [])
    if be.mode == "graph":
        assert "traceEvents" in json.loads(step.chrome_trace())
    else:
        with pytest.raises(dualtf.DualTFError, match=r"called on a step of mode 'graph'\. Received: a step of mode"):
            step.chrome_trace()


class _Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, be):
        self.calls += 1
        return _affine(be)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"modes": ["session"]}, r"Received: unknown mode 'session'"),
        ({"steps": 0}, r"`steps` must be an int >= 1\. Received: steps=0"),
        ({"warmup": -1}, r"`warmup` must be an int >= 0"),
        ({"min_time": 0}, r"`min_time` must be a positive number"),
        ({"trace_dir": "/proc/forbidden/dir"}, r"`trace_dir` must be a writable directory"),
    ],
)
def test_bad_arguments_fail_before_anything_runs(kwargs, pattern):
    program = _Counting()
    with pytest.raises(dualtf.DualTFError, match=pattern):
        profile(program, {"x": [[1.0]]}, **kwargs)
    assert program.calls == 0


@pytest.mark.parametrize(
    ("feeds", "pattern"),
    [
        ({"y": [[1.0]]}, r"unexpected feed `y`"),
        ({"x": [["a"]]}, r"Feed `x` must be castable to float32"),
        ({"x": [[1.0], [2.0]]}, r"Feed `x` must be of shape \(1, None\)\. Received: shape \(2, 1\)"),
        ({}, r"no value for feed `x`"),
    ],
)
def test_feeds_that_do_not_match_fail_before_timing(feeds, pattern):
    with pytest.raises(dualtf.FeedError, match=pattern):
        profile(_affine, feeds, modes=["eager"], steps=1)


def test_program_must_return_a_step():
    with pytest.raises(
        dualtf.DualTFError, match=r"A program must return the step made by be.function\(\)\. Received: int 42"
    ):
        profile(lambda be: 42, modes=["eager"], steps=1)


def test_report_is_a_public_type():
    assert ProfileReport.__module__ == "dualtf.profiler.report"


def test_profile_reports_each_mode_strategy_cell():
    feeds = {"a": np.arange(4), "b": np.arange(4)}
    report = profile(
        examples.feeds_sum, feeds, modes=["graph", "function"], strategies=["default", "cpu", "mirrored"], steps=5
    )
    cells = [(r.mode, r.strategy) for r in report.rows]
    assert cells == [
        ("graph", "default"),
        ("graph", "cpu"),
        ("graph", "mirrored"),
        ("function", "default"),
        ("function", "cpu"),
        ("function", "mirrored"),
    ]
    report = profile(examples.feeds_sum, feeds, modes=["function", "xla"], strategies=["mirrored"], steps=5)
    assert [(r.mode, r.strategy) for r in report.rows] == [("function", "mirrored")]
    assert [(m, s) for m, s, _ in report.skipped] == [("xla", "mirrored")]
    assert "strategy" in report.table() and "not run: xla × mirrored" in report.table()
    assert json.loads(report.to_json())["skipped"][0]["reason"].startswith("The combination of mode 'xla'")
    with pytest.raises(
        dualtf.FeedError, match=r"Feed `x` must be declared with a first dimension that divides across the 2 replicas"
    ):
        profile(_affine, {"x": [[1.0, 2.0]]}, modes=["function"], strategies=["mirrored"], steps=1)
