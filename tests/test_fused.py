"""Fused steps (``be.function(..., steps_per_call=K)``): K steps in one call, in every mode."""

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf import examples

K = 5


def _stacked(batches, steps):
    return {key: np.stack([batches(i)[key] for i in range(steps)]) for key in ("x", "y")}


def test_k_steps_in_one_call_end_as_k_single_calls(dualtf_mode):
    batches = examples.digits_batches()
    with dualtf.backend(dualtf_mode, seed=0) as be:
        single = examples.mlp_training(be)
        losses = [float(single(**batches(i))) for i in range(K)]
        want = [be.evaluate(v) for v in be.variables]
    with dualtf.backend(dualtf_mode, seed=0) as be:
        fused = examples.mlp_training(be, steps_per_call=K)
        assert fused.steps_per_call == K
        got_losses = fused(**_stacked(batches, K))
        got = [be.evaluate(v) for v in be.variables]
    rtol = 1e-5 if dualtf_mode == "xla" else 1e-6  # XLA compiles the loop, not K calls: floats reorder
    np.testing.assert_allclose(got_losses, losses, rtol=rtol)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-7)


@pytest.mark.parametrize(("outputs", "expected"), [("stack", [1, 3, 6]), ("last", 6), ("sum", 10), ("mean", 10 / 3)])
def test_step_outputs(dualtf_backend, outputs, expected):
    be = dualtf_backend
    total = be.variable(0.0)
    x = be.feed("x", tf.float32, [])

    def add(x):
        total.assign_add(x)
        return {"total": total.read_value(), "nothing": None}

    step = be.function(add, [x], steps_per_call=3, step_outputs=outputs)
    out = step([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out["total"], expected, rtol=1e-6)
    assert out["nothing"] is None
    assert be.evaluate(total) == 6.0


def test_fused_values_must_be_stacked(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32)  # any shape: only the call can check the steps axis
    step = be.function(lambda x: x * 2.0, [x], steps_per_call=3, step_outputs="last")
    with pytest.raises(dualtf.FeedError, match=r"Feed `x` of a step of 3 steps per call must be stacked"):
        step([1.0, 2.0])
    assert step(np.ones((3, 2))).shape == (2,)
    for bad in (0, 2**31):
        with pytest.raises(dualtf.DualTFError, match=r"`steps_per_call` must be an int >= 1 and <= 2147483647"):
            be.function(lambda x: x, [x], steps_per_call=bad)
    with pytest.raises(dualtf.DualTFError, match=r"`step_outputs` of function\(\) must be one of stack, last"):
        be.function(lambda x: x, [x], steps_per_call=2, step_outputs="max")


@pytest.mark.dualtf(modes=["graph", "function", "xla"])
def test_a_fused_step_is_one_graph_with_a_constant_op_count(dualtf_backend):
    be = dualtf_backend
    w = be.variable(1.0)
    x = be.feed("x", tf.float32, [None])
    step = be.function(lambda x: w.assign_add(tf.reduce_sum(x)), [x], steps_per_call=10)
    before = be.graph.version if be.mode == "graph" else step.trace_count
    for _ in range(20):
        step(np.ones((10, 4)))
    assert (be.graph.version if be.mode == "graph" else step.trace_count) == before
    assert be.evaluate(w) == 1.0 + 20 * 10 * 4


def _benchmarks():
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        return (
            importlib.import_module("bench_fused"),
            importlib.import_module("bench_overhead"),
            importlib.import_module("_docs"),
            importlib.import_module("bench_keras"),
        )
    finally:
        sys.path.pop(0)


def test_performance_md_holds_the_benchmarks_own_tables():
    bench_fused, bench_overhead, docs, bench_keras = _benchmarks()
    fused = docs.block("bench_fused")
    row = {"workload": "mlp", "row": "graph, 1 step/call", "us_per_step": 1.0, "ratio": 1.0}
    assert fused[2:4] == bench_fused.table([row], 100).splitlines()[2:4]  # the script's header: generated
    labels = {line.split(" | ")[1] for line in fused[4:] if line.startswith("| ")}
    assert "in-graph tf.range loop (raw TF)" in labels
    assert {f"{m}, 1 step/call" for m in dualtf.MODES} <= labels
    assert {f"{m}, epoch of 100 batches/call" for m in dualtf.MODES} <= labels
    assert fused[0].startswith("TensorFlow ") and "K = 100" in fused[0]
    overhead = docs.block("bench_overhead")
    row = {"workload": "add3", "mode": "graph", "dualtf_us": 1.0, "raw_us": 1.0, "ratio": 1.0}
    assert overhead[2:4] == bench_overhead.table([row], 15).splitlines()[2:4]
    assert len([line for line in overhead if line.startswith("| ") and "workload" not in line]) == 8
    keras_fit = docs.block("bench_keras")
    row = {"workload": "mlp", "steps_per_execution": 1, "mode": "graph", "us_per_step": 1.0, "reference": "-"}
    assert keras_fit[2:4] == bench_keras.table([{**row, "reference_us": 1.0, "ratio": 1.0}], 64).splitlines()[2:4]
    cells = {tuple(line.split(" | ")[:3]) for line in keras_fit[4:]}
    assert {(f"| {w}", str(k), m) for w in ("mlp", "cnn") for k in (1, 32) for m in dualtf.MODES} <= cells


def test_update_docs_rewrites_only_the_marked_block(tmp_path):
    _, _, docs, _ = _benchmarks()
    begin, end = docs.markers("bench")
    doc = tmp_path / "perf.md"
    doc.write_text(f"before\n{begin}\nold\n{end}\nafter\n")
    docs.update_docs("bench", "new table", doc)
    assert doc.read_text() == f"before\n{begin}\nnew table\n{end}\nafter\n"


def _digits_training(be):
    import keras

    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(10, kernel_initializer=keras.initializers.GlorotUniform(0))]
    )
    optimizer = keras.optimizers.SGD(0.1)

    def train(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x)))
        optimizer.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True)
        )
        return loss

    x, y = examples.digits()
    ds = tf.data.Dataset.from_tensor_slices((x[:256], y[:256])).shuffle(256, seed=1).batch(32).prefetch(2)
    return train, ds, model


def test_an_epoch_in_one_call_is_the_loop_over_its_batches(dualtf_mode):
    with dualtf.backend(dualtf_mode, seed=0) as be:
        train, ds, model = _digits_training(be)
        step = be.function(train, be.feeds_from(ds, ["x", "y"]))
        looped = [[float(step(*batch)) for batch in be.iterate(ds)] for _ in range(2)]
        want = be.evaluate(model.trainable_variables)
    with dualtf.backend(dualtf_mode, seed=0) as be:
        train, ds, model = _digits_training(be)
        epoch = be.epoch(train, ds)
        assert epoch.steps_per_call == 8
        fused = [epoch().tolist() for _ in range(2)]  # the second epoch reshuffles, as the loop does
        got = be.evaluate(model.trainable_variables)
    rtol = 1e-5 if dualtf_mode == "xla" else 1e-6
    np.testing.assert_allclose(fused, looped, rtol=rtol)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-7)


def test_an_epoch_of_unknown_length(dualtf_backend):
    be = dualtf_backend
    seen = be.variable(0)
    ds = tf.data.Dataset.range(10).filter(lambda i: tf.equal(i % 3, 0)).map(lambda i: tf.cast(i, tf.int32))
    epoch = be.epoch(lambda i: seen.assign_add(1), ds, step_outputs="last")
    assert [int(epoch()) for _ in range(2)] == [4, 8]


def test_epoch_arguments_are_checked(dualtf_backend):
    be = dualtf_backend
    ds = tf.data.Dataset.range(3)
    with pytest.raises(dualtf.DualTFError, match=r"`fn` of function\(\) \(two\) must be callable with 1 positional"):

        def two(a, b):
            return a

        be.epoch(two, ds)
    with pytest.raises(dualtf.DualTFError, match=r"The dataset of epoch\(\) must be a tf.data.Dataset made under"):
        be.epoch(lambda i: i, [1, 2])
    with pytest.raises(dualtf.DualTFError, match=r"`step_outputs` of epoch\(\) must be one of"):
        be.epoch(lambda i: i, ds, step_outputs="all")
    made = len(be.variables)
    with pytest.raises(dualtf.DualTFError, match=r"dataset of epoch\(\) must be finite"):
        be.epoch(lambda i: tf.Variable(0, dtype=tf.int64).assign_add(i), ds.repeat())
    with pytest.raises(dualtf.DualTFError, match=r"dataset of epoch\(\) must be non-empty"):
        be.epoch(lambda i: tf.Variable(0, dtype=tf.int64).assign_add(i), ds.take(0))
    assert len(be.variables) == made  # refused before fn was built: no variable made


def test_what_a_fused_call_could_not_stack_or_reduce_is_refused_before_any_update(dualtf_backend):
    """A fused call fails before its first update, or not at all, where K single calls would succeed: a result
    whose shape can change between steps (XLA once padded it silently), a sum of booleans or strings."""
    be = dualtf_backend
    counter = be.variable(0, name="counter")
    x = be.feed("x", tf.float32, [3])

    def positive(x):
        counter.assign_add(1)
        return tf.boolean_mask(x, x > 0)

    with pytest.raises(
        dualtf.DualTFError,
        match=r"Result 0 of step `positive` \(3 steps per call, step_outputs='stack'\) "
        r"must be of one shape in every step.* Received: shape \(None,\) \(float32\)",
    ):
        be.function(positive, [x], steps_per_call=3)
    last = be.function(positive, [x], steps_per_call=3, step_outputs="last")  # the last one needs no stacking
    np.testing.assert_array_equal(last([[1, 2, -1], [3, 4, 5], [-1, -1, 6]]), [6.0])
    assert be.evaluate(counter) == 3
    for outputs, value in (("sum", lambda x: x > 0), ("mean", lambda x: tf.equal(x, 1.0))):
        with pytest.raises(dualtf.DualTFError, match=rf"step_outputs='{outputs}'\) must be a number .* dtype bool"):
            be.function(value, [x], steps_per_call=2, step_outputs=outputs)


def test_a_fused_mean_of_integers_is_numpys_mean(dualtf_backend):
    x = dualtf_backend.feed("x", tf.int32, [])
    step = dualtf_backend.function(lambda x: x, [x], steps_per_call=3, step_outputs="mean")
    got = step([1, 2, 2])
    assert got.dtype == np.float64 and got == pytest.approx(np.mean([1, 2, 2]))


def test_an_epoch_over_batches_of_unequal_size_is_refused_at_build_or_runs_as_single_calls(dualtf_backend):
    be = dualtf_backend
    with pytest.raises(dualtf.DualTFError, match=r"an epoch, step_outputs='stack'.* drop_remainder=True"):
        be.epoch(lambda b: b * 2, tf.data.Dataset.range(10).batch(4))
    even = be.epoch(lambda b: b * 2, tf.data.Dataset.range(10).batch(4, drop_remainder=True))
    np.testing.assert_array_equal(even(), [[0, 2, 4, 6], [8, 10, 12, 14]])
    last = be.epoch(lambda b: tf.reduce_sum(b), tf.data.Dataset.range(10).batch(4))
    np.testing.assert_array_equal(last(), [6, 22, 17])


def test_an_epoch_never_hangs_counting_an_endless_dataset(dualtf_backend):
    be = dualtf_backend
    endless = tf.data.Dataset.range(3).repeat().filter(lambda i: i < 5)
    with pytest.raises(dualtf.DualTFError, match=r"counted to its end within 100000 elements; give its length"):
        be.epoch(lambda i: i, endless)
    with pytest.raises(dualtf.DualTFError, match=r"The `fn` of epoch\(\) must be callable\. Received: int 3"):
        be.epoch(3, tf.data.Dataset.range(3))


def test_the_gpu_check_runs_at_a_cpus_size_and_writes_its_tables(tmp_path, pytester):
    """benchmarks/gpu_check.py --reduced: every phase, sized for this CPU, so it cannot rot before a GPU runs it."""
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        gpu_check = importlib.import_module("gpu_check")
    finally:
        sys.path.pop(0)
    runs = []

    def run_pytest(args):
        runs.append(args)
        return pytester.runpytest_inprocess(*args)

    assert gpu_check.main(["--reduced", "--out", str(tmp_path)], run_pytest=run_pytest) == 0
    matrix = (tmp_path / "strategies.md").read_text()
    assert "| mode \\ strategy |" in matrix and "| graph |" in matrix
    assert "✓" in matrix  # the strategy test passed in some cell
    figures = (tmp_path / "performance.md").read_text()
    for heading in ("dualtf against raw TensorFlow", "Fused steps", "The MLP step per mode × strategy"):
        assert heading in figures
    assert "device now / peak" in figures and "| graph |" in figures
    assert runs and "linear_step_matches_one_device" in runs[0]
