"""Strategies: the mode x strategy matrix on this machine, discovery, errors, multi-worker."""

import json
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dualtf
from dualtf import examples
from dualtf._strategies import combination_unsupported_reason, strategy_unavailable_reason
from dualtf.multiworker import run_workers
from dualtf.program import load_program, run_program

HERE = Path(__file__).parent
RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3)).astype(np.float32)
Y = RNG.normal(size=(8, 1)).astype(np.float32)


PROGRAMS = HERE / "programs.py"
_linear_program = load_program(f"{PROGRAMS}:linear")


@pytest.fixture(scope="module")
def linear_reference():
    # module scope: made before the test's backend enters its strategy's scope
    return run_program(_linear_program, {"x": X, "y": Y}, "eager", steps=3)


def test_linear_step_matches_one_device(linear_reference, dualtf_backend, dualtf_strategy):
    be = dualtf_backend
    assert be.strategy_name == dualtf_strategy
    step = _linear_program(be)
    losses = [float(step(X, Y)) for _ in range(3)]
    weights = be.evaluate(be.variables[0])
    ref_losses, ref_vars = linear_reference
    np.testing.assert_allclose(losses, [float(v) for v in ref_losses], rtol=1e-5)
    np.testing.assert_allclose(weights, ref_vars[0][1], rtol=1e-5, atol=1e-6)


@pytest.mark.dualtf(strategies=["mirrored", "cpu"])
def test_mlp_20_steps_mirrored_equals_one_device(dualtf_mode, dualtf_strategy):
    batch = examples.digits_batches()
    if (dualtf_mode, dualtf_strategy) == ("graph", "mirrored"):
        # TensorFlow cannot build a Keras optimizer's replica all_reduce in a TF1 graph: a named refusal
        with pytest.raises(
            dualtf.UnsupportedCombinationError,
            match=r"mode 'graph' and strategy 'mirrored' for this `fn` .* all_reduce",
        ):
            run_program(examples.mlp_training, batch, dualtf_mode, steps=1, strategy=dualtf_strategy)
        return
    try:
        _, got = run_program(examples.mlp_training, batch, dualtf_mode, steps=20, strategy=dualtf_strategy)
    except dualtf.UnsupportedCombinationError as exc:
        assert dualtf_mode == "xla" and dualtf_strategy == "mirrored"
        pytest.skip(str(exc))
    _, want = run_program(examples.mlp_training, batch, dualtf_mode, steps=20)
    assert len(got) == len(want)
    for (name, a), (_, b) in zip(want, got, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("reduce", ["mean", "sum", "concat"])
@pytest.mark.dualtf(strategies=["mirrored"])
def test_reduce_rules_are_the_same_in_every_mode(dualtf_backend, dualtf_strategy, reduce):
    be = dualtf_backend
    x = be.feed("x", tf.float32, shape=[None])
    step = be.function(lambda x: x * 2.0, [x], reduce=reduce)
    out = step([1.0, 2.0, 3.0, 4.0])
    per_replica = np.array([[2.0, 4.0], [6.0, 8.0]])  # each replica doubles its half of the batch
    want = {"mean": per_replica.mean(axis=0), "sum": per_replica.sum(axis=0), "concat": per_replica.reshape(-1)}[reduce]
    np.testing.assert_allclose(out, want)


@pytest.mark.dualtf(strategies=["mirrored"])
def test_batch_that_does_not_divide_is_refused(dualtf_backend, dualtf_strategy):
    be = dualtf_backend
    v = be.variable(0.0)
    x = be.feed("x", tf.float32, shape=[None, 2])

    def fn(x):
        v.assign_add(1.0)
        return tf.reduce_sum(x)

    step = be.function(fn, [x])
    with pytest.raises(
        dualtf.FeedError,
        match=r"Feed `x` must be a batch that divides evenly across the 2 replicas of strategy 'mirrored'\. "
        r"Received: batch size 3",
    ):
        step(np.ones((3, 2)))
    assert be.evaluate(v) == 0.0


def test_unsupported_combinations_name_mode_strategy_and_reason():
    collective = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.HierarchicalCopyAllReduce()
    )
    with pytest.raises(
        dualtf.UnsupportedCombinationError,
        match=r"The combination of mode 'graph' and strategy 'mirrored' must be supported by TensorFlow\. "
        r"Received: .*ReductionToOneDevice",
    ):
        dualtf.backend("graph", strategy=collective)
    with dualtf.backend("graph", strategy="mirrored") as be:  # dualtf's own: reduces through one device
        assert isinstance(be.strategy.extended._cross_device_ops, tf.distribute.ReductionToOneDevice)
    with pytest.raises(dualtf.UnsupportedCombinationError, match=r"mode 'xla' and strategy 'mirrored'"):
        dualtf.backend("xla", strategy="mirrored")


def test_unknown_or_bad_strategy():
    with pytest.raises(
        dualtf.StrategyError, match=r"one of default, cpu, gpu, mirrored, tpu, multiworker .* Received: strategy='gpus'"
    ):
        dualtf.backend("eager", strategy="gpus")
    assert not issubclass(dualtf.StrategyError, dualtf.ModeError)  # a strategy is not a mode
    with pytest.raises(
        dualtf.DualTFError,
        match=r"The strategy must be a name from dualtf.STRATEGIES or a tf.distribute.Strategy\. Received: int 3",
    ):
        dualtf.backend("eager", strategy=3)


def test_user_built_strategy_object(dualtf_mode):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with dualtf.backend(dualtf_mode, strategy=strategy) as be:
        assert be.strategy is strategy and be.strategy_name == "cpu" and be.num_replicas == 1
        w = be.variable(2.0)
        assert be.evaluate(be.function(lambda: w * 3.0, [])()) == 6.0


def test_discovery_reasons(monkeypatch):
    assert dualtf.available_strategies()[:2] == ("default", "cpu")
    assert "mirrored" in dualtf.available_strategies()  # the suite runs with --dualtf-virtual-cpus 2
    if not tf.config.list_physical_devices("GPU"):
        assert strategy_unavailable_reason("gpu") == "no GPU is visible to TensorFlow"
    assert "TPUClusterResolver" in (strategy_unavailable_reason("tpu") or "TPUClusterResolver")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert "TF_CONFIG" in strategy_unavailable_reason("multiworker")
    monkeypatch.setenv("TF_CONFIG", "not json")
    assert "must be JSON" in strategy_unavailable_reason("multiworker")
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}})
    )
    assert strategy_unavailable_reason("multiworker") is None
    assert combination_unsupported_reason("eager", None) is None


def test_configure_virtual_cpus_too_late_is_named():
    # Run first in a fresh worker (pytest -n 2), TensorFlow has not set up its devices yet and a
    # call with 3 would still work — and give every later test 3 CPUs. Initialize them first.
    assert len(tf.config.list_logical_devices("CPU")) == 2
    dualtf.configure_virtual_cpus(2)  # what the session already has: a no-op
    with pytest.raises(
        dualtf.DualTFError,
        match=r"configure_virtual_cpus\(3\) must be called before TensorFlow initializes .* "
        r"Received: a call after initialization, with 2 logical CPU",
    ):
        dualtf.configure_virtual_cpus(3)
    with pytest.raises(dualtf.DualTFError, match=r"given an int n >= 1"):
        dualtf.configure_virtual_cpus(0)


def test_variables_are_mean_aggregated_under_a_strategy():
    with dualtf.backend("function", strategy="mirrored") as be:
        w = be.variable(1.0)
        s = be.variable(1.0, aggregation="sum")
        assert w.aggregation == tf.VariableAggregation.MEAN and s.aggregation == tf.VariableAggregation.SUM
        with pytest.raises(dualtf.DualTFError, match=r"The aggregation must be"):
            be.variable(1.0, aggregation="median")


@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
def test_two_workers_give_the_weights_of_one_process(mode):
    feeds = {"x": X, "y": Y}
    program = f"{PROGRAMS}:linear"
    try:
        results = run_workers(program, feeds, workers=2, mode=mode, steps=3, timeout=240)
    except dualtf.DualTFError as exc:
        if "UnsupportedCombinationError" not in str(exc):
            raise
        assert mode == "xla" and not tf.config.list_physical_devices("GPU")
        pytest.skip([line for line in str(exc).splitlines() if "The combination of mode" in line][0])
    outputs, variables = run_program(_linear_program, feeds, mode, steps=3)
    assert len(results) == 2
    for result in results:
        np.testing.assert_allclose([float(o) for o in result.outputs], [float(o) for o in outputs], rtol=1e-5)
        np.testing.assert_allclose(result.variables[0][1], variables[0][1], rtol=1e-5, atol=1e-6)


def test_worker_failure_and_timeout_clean_up():
    program = f"{PROGRAMS}"
    with pytest.raises(
        dualtf.DualTFError,
        match=r"(?s)Worker 0 must exit with status 0\. Its output ends:.*this worker fails on purpose.*"
        r"Received: status 1\.",
    ):
        run_workers(f"{program}:fails", {}, workers=2, mode="eager", timeout=120)
    with pytest.raises(dualtf.DualTFError, match=r"done within timeout=8s"):
        run_workers(f"{program}:hangs", {}, workers=2, mode="eager", timeout=8)
    # A worker left behind would still point at its job directory, which run_workers removed.
    # (Workers of another test running in parallel under xdist point at directories that exist.)
    running = subprocess.run(["pgrep", "-af", "dualtf.multiworker"], capture_output=True, text=True).stdout.splitlines()
    orphans = [line for line in running if "dualtf-workers-" in line and not Path(line.split()[-2]).exists()]
    assert orphans == [], orphans


def test_bad_worker_arguments():
    with pytest.raises(dualtf.DualTFError, match=r"`workers` must be an int >= 1"):
        run_workers("m:f", workers=0)
    with pytest.raises(dualtf.DualTFError, match=r"a 'module:function' string"):
        run_workers(len)


_linear_fused = load_program(f"{PROGRAMS}:linear_fused")
XS = RNG.normal(size=(3, 8, 3)).astype(np.float32)  # three steps' batches, stacked
YS = RNG.normal(size=(3, 8, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def fused_reference():
    """One device, one step per call, over the three batches twice: what fused steps and epochs must give."""
    losses, variables = run_program(_linear_program, lambda i: {"x": XS[i % 3], "y": YS[i % 3]}, "eager", steps=6)
    return [float(v) for v in losses], variables[0][1]


def test_fused_steps_under_a_strategy_give_the_one_device_numbers(fused_reference, dualtf_backend, dualtf_strategy):
    be = dualtf_backend
    step = _linear_fused(be)
    assert step.steps_per_call == 3
    losses = [float(v) for _ in range(2) for v in step(XS, YS)]
    want_losses, want_w = fused_reference
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    np.testing.assert_allclose(be.evaluate(be.variables[0]), want_w, rtol=1e-5, atol=1e-6)
    if be.num_replicas > 1:  # the batch axis of stacked feeds is the second: it must divide
        with pytest.raises(dualtf.FeedError, match=r"divides evenly across the 2 replicas.*batch size 3"):
            step(XS[:, :3], YS[:, :3])


def test_an_epoch_under_a_strategy_gives_the_one_device_numbers(fused_reference, dualtf_backend, dualtf_strategy):
    be = dualtf_backend
    w, _, _, train = load_program(f"{PROGRAMS}:_regression")(be)
    with be.scope():
        ds = tf.data.Dataset.from_tensor_slices((XS.reshape(24, 3), YS.reshape(24, 1))).batch(8, drop_remainder=True)
    epoch = be.epoch(train, ds)
    losses = [float(v) for _ in range(2) for v in epoch()]
    want_losses, want_w = fused_reference
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    np.testing.assert_allclose(be.evaluate(w), want_w, rtol=1e-5, atol=1e-6)
    if be.num_replicas > 1:  # a last batch of another size could not be split: refused at build
        with be.scope():
            ragged = tf.data.Dataset.from_tensor_slices((XS.reshape(24, 3), YS.reshape(24, 1))).batch(5)
        with pytest.raises(dualtf.FeedError, match=r"Component 0 of epoch\(\)'s dataset under strategy 'mirrored'"):
            be.epoch(train, ragged)


@pytest.mark.dualtf(strategies=["mirrored"])
def test_the_keras_mlp_fused_under_mirrored_equals_one_device(dualtf_mode, dualtf_strategy):
    """examples.mlp_training with steps_per_call=4 (Keras layers and Adam) under mirrored, against one device."""
    if dualtf_mode == "graph":  # the Keras optimizer's replica all_reduce: refused in a TF1 graph, as unfused
        with (
            pytest.raises(dualtf.UnsupportedCombinationError, match=r"all_reduce"),
            dualtf.backend("graph", strategy="mirrored", seed=0) as be,
        ):
            examples.mlp_training(be, steps_per_call=4)
        return
    x, y = examples.digits()
    stacked = {"x": x[:128].reshape(4, 32, 64), "y": y[:128].reshape(4, 32)}

    def run(strategy):
        with dualtf.backend(dualtf_mode, strategy=strategy, seed=0) as be:
            step = examples.mlp_training(be, steps_per_call=4)
            losses = [step(**stacked) for _ in range(2)]
            return np.concatenate(losses), be.evaluate(be.variables)

    try:
        got_losses, got = run("mirrored")
    except dualtf.UnsupportedCombinationError as exc:  # xla x mirrored needs GPUs: refused on CPUs
        assert dualtf_mode == "xla" and not tf.config.list_physical_devices("GPU")
        pytest.skip(str(exc))
    want_losses, want = run(None)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    for a, b in zip(want, got, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_two_workers_fused_with_random_draws_give_the_weights_of_one_process():
    """A fused training loop drawing dropout masks and noise under deterministic_random=True, across two
    loopback workers: each pass split across the workers' replicas, each replica drawing its rows of one
    process's draws."""
    feeds = {"x": XS, "y": YS}
    results = run_workers(
        f"{PROGRAMS}:dropout_fused", feeds, workers=2, mode="function", steps=2, deterministic_random=True, timeout=240
    )
    outputs, variables = run_program(_dropout_fused, feeds, "function", steps=2, deterministic_random=True)
    assert len(results) == 2
    for result in results:
        np.testing.assert_allclose(np.concatenate(result.outputs), np.concatenate(outputs), rtol=1e-5)
        np.testing.assert_allclose(result.variables[0][1], variables[0][1], rtol=1e-5, atol=1e-6)


_dropout_regression = load_program(f"{PROGRAMS}:_dropout_regression")
_dropout_fused = load_program(f"{PROGRAMS}:dropout_fused")


@pytest.fixture(scope="module")
def random_reference():
    """One device under deterministic_random, one step per call, over the three batches twice."""
    losses, variables = run_program(
        load_program(f"{PROGRAMS}:_dropout_step"),
        lambda i: {"x": XS[i % 3], "y": YS[i % 3]},
        "eager",
        steps=6,
        deterministic_random=True,
    )
    return [float(v) for v in losses], variables[0][1]


def test_random_draws_under_a_strategy_are_one_devices(random_reference, dualtf_mode, dualtf_strategy):
    """deterministic_random under a strategy: single steps, fused steps and an epoch draw one device's
    dropout masks (per example: each replica its own rows) and noise (fixed shape: whole on every replica)."""
    want_losses, want_w = random_reference

    def backend():
        return dualtf.backend(dualtf_mode, strategy=dualtf_strategy, seed=0, deterministic_random=True)

    def single(be):
        step = be.function(train, [x, y])
        return [step(XS[i % 3], YS[i % 3]) for i in range(6)]

    def fused(be):
        step = be.function(train, [x, y], steps_per_call=3)
        return [v for _ in range(2) for v in step(XS, YS)]

    def epoch(be):
        with be.scope():
            ds = tf.data.Dataset.from_tensor_slices((XS.reshape(24, 3), YS.reshape(24, 1)))
            ds = ds.batch(8, drop_remainder=True)
        one_pass = be.epoch(train, ds)
        return [v for _ in range(2) for v in one_pass()]

    for run in (single, fused, epoch):
        try:
            be = backend()
        except dualtf.UnsupportedCombinationError:  # the mode table's cells (xla x mirrored on CPUs)
            assert dualtf_mode == "xla" and dualtf_strategy == "mirrored"
            return
        with be:
            w, x, y, train = _dropout_regression(be)
            np.testing.assert_allclose([float(v) for v in run(be)], want_losses, rtol=1e-5, err_msg=run.__name__)
            np.testing.assert_allclose(be.evaluate(w), want_w, rtol=1e-5, atol=1e-6, err_msg=run.__name__)


@pytest.mark.dualtf(modes=["graph"], strategies=["mirrored"])
def test_a_keras_model_made_in_a_graph_block_under_mirrored_is_initialized_and_closes(dualtf_mode, dualtf_strategy):
    """A mirrored variable's initializer is a group TensorFlow makes when asked: asked outside the graph (the
    catch-up as the block closes) it was None, and the block failed to close with an AttributeError."""
    with dualtf.backend(dualtf_mode, strategy=dualtf_strategy, seed=0) as be, be.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_initializer="ones")])
    assert be.closed
    with dualtf.backend(dualtf_mode, strategy=dualtf_strategy, seed=0) as be:
        with be.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_initializer="ones")])
        assert be.evaluate(model.layers[0].kernel).tolist() == [[1.0] * 3] * 4


@pytest.mark.dualtf(strategies=["cpu", "mirrored"])
def test_keras_dropout_under_a_strategy_draws_one_devices_masks(dualtf_mode, dualtf_strategy):
    """Keras' own fit and evaluate of a model with Dropout, under deterministic_random=True: each replica
    draws its rows of one device's masks (without dualtf's per-replica draws the mirrored losses differ)."""
    x, y = examples.digits()

    def run(strategy):
        with dualtf.backend(dualtf_mode, strategy=strategy, seed=0, deterministic_random=True) as be:
            with be.scope():
                model = keras.Sequential(
                    [
                        keras.Input((64,)),
                        keras.layers.Dense(32, "relu"),
                        keras.layers.Dropout(0.5),
                        keras.layers.Dense(10),
                    ]
                )
                model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            runner = be.keras(model)
            history = runner.fit(x[:128], y[:128], batch_size=32, epochs=2, shuffle=False, verbose=0)
            return history.history["loss"] + [runner.evaluate(x[128:192], y[128:192], batch_size=32, verbose=0)]

    try:
        got = run(dualtf_strategy)
    except dualtf.UnsupportedCombinationError as exc:
        refused = {"eager": "in mode 'eager' with deterministic_random=True", "graph": "in mode 'graph'", "xla": "XLA"}
        assert refused[dualtf_mode] in str(exc) and (dualtf_mode != "xla" or dualtf_strategy == "mirrored")
        return
    np.testing.assert_allclose(got, run(None), rtol=1e-5)


_DRAWS = {
    "uniform": lambda shape: tf.random.uniform(shape),
    "normal": lambda shape: tf.random.normal(shape, dtype=tf.float64),
    "truncated_normal": lambda shape: tf.random.truncated_normal(shape),
    "integers": lambda shape: tf.random.uniform(shape, 0, 1000, dtype=tf.int32),
    "dropout": lambda shape: tf.nn.dropout(tf.ones(shape), rate=0.3),
    "stateless": lambda shape: tf.random.stateless_normal(shape, seed=[1, 2]),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    draw=st.sampled_from(sorted(_DRAWS)),
    rows=st.integers(1, 3),
    rest=st.lists(st.integers(1, 3), max_size=2),
    fixed=st.lists(st.integers(1, 4), min_size=1, max_size=2),
)
@pytest.mark.dualtf(modes=["function"], strategies=["mirrored"])
def test_every_draw_splits_into_one_devices_rows(dualtf_mode, dualtf_strategy, draw, rows, rest, fixed):
    """Any random op, any shape: per example (first dimension the batch, ``rows`` per replica), the
    replicas' rows put together are one device's draw; of fixed shape, every replica draws it whole."""
    batch = np.zeros((2 * rows, *rest), np.float32)

    def run(strategy):
        with dualtf.backend(dualtf_mode, strategy=strategy, seed=3, deterministic_random=True) as be:
            x = be.feed("x", tf.float32, [None, *rest])
            per_example = be.function(lambda x: _DRAWS[draw](tf.shape(x)), [x], reduce="concat")
            whole = be.function(lambda x: _DRAWS[draw](fixed)[tf.newaxis], [x], reduce="concat")
            return per_example(batch), whole(batch)

    (got, got_whole), (want, want_whole) = run(dualtf_strategy), run(None)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got_whole.shape == (2, *fixed)  # one per replica, each one device's draw
    np.testing.assert_allclose(got_whole, np.concatenate([want_whole, want_whole]), rtol=1e-6)


@pytest.mark.dualtf(strategies=["mirrored"], seed=0, deterministic_random=True)
def test_random_draws_a_strategy_cannot_split_are_refused_by_name(dualtf_backend, dualtf_strategy):
    """A shuffle of the batch mixes examples of other replicas; an eager step whose fn cannot be traced
    has no traced run to tell its per-example draws by."""
    be = dualtf_backend
    assert be.num_replicas == 2
    x = be.feed("x", tf.float32, [None, 3])
    batch = np.ones((4, 3), np.float32)
    with pytest.raises(dualtf.DualTFError, match=r"tf.random.shuffle in step `<lambda>` .*must not reorder"):
        be.function(lambda x: tf.random.shuffle(x), [x], reduce="concat")
    if be.mode == "eager":  # an eager-only fn (x.numpy()) runs untraced: its draws cannot be told
        kept = be.function(lambda x: tf.nn.dropout(x, 0.5) * float(x.numpy().sum() > 0), [x], reduce="concat")
        with pytest.raises(dualtf.DualTFError, match=r"draw 1 \(tf.random.uniform.* made no traced run"):
            kept(batch)
    step = be.function(lambda x: tf.nn.dropout(x, 0.5), [x], reduce="concat")  # the backend is whole after them
    assert step(batch).shape == (4, 3)


@pytest.mark.dualtf(strategies=["cpu", "mirrored"])
def test_every_feature_the_table_refuses_is_refused_at_build_with_its_reason(dualtf_mode, dualtf_strategy):
    """Each refused row of STRATEGY_FEATURES (docs/strategies.md's feature table) is an
    UnsupportedCombinationError naming the feature, the strategy and the table's reason."""
    from dualtf._strategies import STRATEGY_FEATURES

    try:
        be = dualtf.backend(dualtf_mode, seed=0, deterministic_random=True, strategy=dualtf_strategy)
    except dualtf.UnsupportedCombinationError:  # the mode table's cells (xla x mirrored on CPUs)
        assert dualtf_mode == "xla" and dualtf_strategy == "mirrored"
        return
    with be:
        x = be.feed("x", tf.float32, [None])
        step = be.function(lambda x: x * 2.0, [x], reduce="concat")
        with be.scope():
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        builds = {
            "reuse": lambda: be.function(lambda x: x, [x], reuse=step),
            "variables_in_step": lambda: be.function(lambda x: tf.Variable(1.0, name="w_in_fn") * x, [x]),
            "keras_eager_random": lambda: be.keras(model),
            "graph_keras": lambda: be.keras(model),
        }
        only = {"keras_eager_random": "eager", "graph_keras": "graph"}  # refused in that mode alone
        refused = [f for f in STRATEGY_FEATURES if f.refused is not None]
        assert sorted(f.key for f in refused) == sorted(builds)  # every refused row is tested here
        for feature in refused:
            if only.get(feature.key, dualtf_mode) != dualtf_mode:
                continue
            with pytest.raises(dualtf.UnsupportedCombinationError) as caught:
                builds[feature.key]()
            message = str(caught.value)
            assert f"with strategy {dualtf_strategy!r}" in message and feature.refused in message
            if feature.key == "variables_in_step":  # names the step and the variable
                assert "Step `<lambda>` making variable `w_in_fn` in its fn" in message
        assert step(np.array([1.5, 2.0], np.float32)).tolist() == [3.0, 4.0]  # the backend is whole after them
