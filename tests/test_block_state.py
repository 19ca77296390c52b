"""State changed in a backend's block outside a step: the same numbers in every mode, never a silent no-op.

Graph mode runs what the user did in the block (assigns, resets, restores) before the next
step, evaluate, assign or Session run, in creation order, as eager execution would have.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import dualtf


def _counting_step(be):
    v = be.variable(1.0, name="v")
    x = be.feed("x", tf.float32, shape=[])
    return v, be.function(lambda x: v * x, [x])


def test_assign_outside_a_step_is_seen_by_the_next_step(dualtf_backend):
    v, step = _counting_step(dualtf_backend)
    assert step(2.0) == 2.0
    v.assign(5.0)
    v.assign_add(1.0)  # in creation order: 6, not 5
    assert step(1.0) == 6.0
    assert dualtf_backend.evaluate(v) == 6.0


def test_assign_before_the_first_step_is_kept(dualtf_backend):
    v, step = _counting_step(dualtf_backend)
    v.assign(7.0)  # before the variable was ever initialized in graph mode
    assert step(1.0) == 7.0


def test_variable_made_from_another_after_an_assign_sees_the_assign(dualtf_backend):
    be = dualtf_backend
    v = be.variable(1.0, name="v")
    v.assign(5.0)
    w = tf.Variable(v.read_value() * 2.0, name="w")  # eager: 10
    assert be.evaluate(w) == 10.0


def test_metric_reset_between_epochs(dualtf_backend):
    be = dualtf_backend
    mean = keras.metrics.Mean()
    x = be.feed("x", tf.float32, shape=[None])
    step = be.function(lambda x: mean.update_state(x) and None, [x])
    epochs = []
    for epoch in range(2):
        mean.reset_state()
        for batch in ([1.0, 2.0], [3.0 + epoch]):
            step(batch)
        epochs.append(float(be.evaluate(mean.result())))
    assert epochs == [2.0, pytest.approx(7.0 / 3)]


def test_model_reset_metrics_and_optimizer_variables_reset(dualtf_backend):
    be = dualtf_backend
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse", metrics=["mae"])
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    mae = keras.metrics.MeanAbsoluteError()
    x = be.feed("x", tf.float32, shape=[None, 2])
    y = be.feed("y", tf.float32, shape=[None, 1])

    def train(x, y):
        with tf.GradientTape() as tape:
            pred = model(x)
            loss = tf.reduce_mean((pred - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        mae.update_state(y, pred)
        return loss

    step = be.function(train, [x, y])
    xs, ys = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    step(xs, ys)
    model.reset_metrics()
    mae.reset_state()
    for var in optimizer.variables:  # momentum and iteration count back to zero
        var.assign(tf.zeros_like(var))
    assert be.evaluate(mae.result()) == 0.0
    assert all(not np.any(value) for value in be.evaluate(list(optimizer.variables)))


def test_tf_print_outside_a_step_runs_once(dualtf_backend, capfd):
    tf.print("printed once")
    dualtf_backend.evaluate(dualtf_backend.constant(1.0))
    dualtf_backend.evaluate(dualtf_backend.constant(1.0))
    assert capfd.readouterr().err.count("printed once") == 1


def test_a_side_effect_that_needs_a_feed_is_refused_by_name():
    be = dualtf.backend("graph")
    with be:
        v = be.variable(1.0, name="v")
        x = be.feed("x", tf.float32, shape=[])
        v.assign(x.placeholder)  # in eager this would have needed a value: here a placeholder
        pattern = r"Op `AssignVariableOp.*` .* needs no feed.* Received: an op that reads feed `x`"
        with pytest.raises(dualtf.DualTFError, match=pattern):
            be.evaluate(v)
        with pytest.raises(dualtf.DualTFError, match=r"reads feed `x`"):  # every time after, never silently
            be.function(lambda: v * 1.0, [])
        tf.config.run_functions_eagerly(True)
        with pytest.raises(dualtf.DualTFError, match=r"reads feed `x`"):  # closing too: it never ran
            be.close()
    assert be.closed
    assert not tf.config.functions_run_eagerly()  # global state put back all the same


@pytest.mark.dualtf(modes=["graph"])
def test_a_user_session_run_runs_its_fetch_once(dualtf_backend):
    be = dualtf_backend
    v = be.variable(0.0, name="v")
    add = v.assign_add(1.0, read_value=False)
    be.session.run(add)  # TF1 style: the run itself runs it; the catch-up does not run it again
    assert be.evaluate(v) == 1.0


def _saved(tmp_path, mode, value):
    with dualtf.backend(mode) as be:
        v = be.variable([0.0, 0.0], name="v")
        step = be.function(lambda: v.assign_add([1.0, 1.0]), [])
        be.assign(v, value)
        step()
        return tf.train.Checkpoint(v=v).save(str(tmp_path / f"{mode}-ckpt"))


@pytest.mark.parametrize(("writer", "reader"), list(itertools.product(dualtf.MODES, repeat=2)))
def test_checkpoint_round_trip_across_modes(tmp_path, writer, reader):
    path = _saved(tmp_path, writer, [6.0, 7.0])
    with dualtf.backend(reader) as be:
        v = be.variable([1.0, 1.0], name="v")
        tf.train.Checkpoint(v=v).restore(path).run_restore_ops()  # before the first step
        step = be.function(lambda: v * 2.0, [])
        assert step().tolist() == [14.0, 16.0]


@pytest.mark.dualtf(modes=["graph"])
def test_a_restore_that_never_ran_is_refused_not_overwritten(dualtf_backend, tmp_path):
    be = dualtf_backend
    path = _saved(tmp_path, "eager", [6.0, 7.0])
    v = be.variable([1.0, 1.0], name="v")
    status = tf.train.Checkpoint(v=v).restore(path)  # TF2 style: in graph mode its ops never run
    with pytest.raises(dualtf.DualTFError, match=r"restore\(path\)\.run_restore_ops\(\)"):
        be.evaluate(v)
    status.run_restore_ops()
    assert be.evaluate(v).tolist() == [7.0, 8.0]


@pytest.mark.dualtf(modes=["graph"])
def test_tf1_saver_round_trip(dualtf_backend, tmp_path):
    be = dualtf_backend
    w = be.variable([1.0, 2.0], name="w")
    saver = tf.compat.v1.train.Saver([w])  # its prebuilt restore ops never run by themselves
    path = saver.save(be.session, str(tmp_path / "saver"))
    be.assign(w, [0.0, 0.0])
    saver.restore(be.session, path)
    assert be.evaluate(w).tolist() == [1.0, 2.0]


def test_checkpoint_manager_and_saved_model(dualtf_backend, tmp_path):
    be = dualtf_backend
    v = be.variable([1.0, 2.0], name="v")
    step = be.function(lambda: v.assign_add([1.0, 1.0]), [])
    checkpoint = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path / "ckpts"), max_to_keep=2)
    step()
    first = manager.save()
    step()
    manager.save()
    checkpoint.restore(first).run_restore_ops()
    assert be.evaluate(v).tolist() == [2.0, 3.0]
    assert [p.rsplit("-", 1)[1] for p in manager.checkpoints] == ["1", "2"]
    module = tf.Module()
    module.v = v
    module.scale = tf.function(lambda x: x * module.v, input_signature=[tf.TensorSpec([2], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "saved"))
    with dualtf.backend("eager") as reader:  # read back by plain TF2 code
        loaded = tf.saved_model.load(str(tmp_path / "saved"))
        assert reader.evaluate(loaded.scale(tf.constant([1.0, 1.0]))).tolist() == [2.0, 3.0]


@pytest.mark.dualtf(modes=["graph"])
def test_a_failing_side_effect_is_named_and_the_ones_after_it_still_run(dualtf_backend):
    be = dualtf_backend
    v = be.variable(1.0, name="v")
    w = be.variable(1.0, name="w")
    tf.debugging.assert_positive(v - 2.0, message="v must exceed 2")  # fails when run, as it would in eager
    w.assign(5.0)
    pattern = r"Op `assert_positive.*AssertGuard` .* TensorFlow refused it\. Received: .*v must exceed 2"
    with pytest.raises(dualtf.DualTFError, match=pattern):
        be.evaluate(v)
    assert be.evaluate(w) == 5.0  # made after the failing op: run at the next use, not dropped
    tf.debugging.check_numerics(v / 0.0, message="v/0 is not finite")
    with pytest.raises(
        dualtf.DualTFError, match=r"CheckNumerics.* TensorFlow refused it\. Received: .*v/0 is not finite"
    ):
        be.evaluate(w)


def test_assertions_in_the_block_are_checked_in_every_mode(dualtf_backend):
    be = dualtf_backend
    v = be.variable(3.0, name="v")
    tf.debugging.assert_positive(v, message="v must be positive")  # holds: nothing to report
    assert be.evaluate(v) == 3.0
    with pytest.raises((dualtf.DualTFError, tf.errors.InvalidArgumentError), match="v must be negative"):
        tf.debugging.assert_negative(v, message="v must be negative")  # eager raises here, graph at the next use
        be.evaluate(v)
