"""tf.summary scalars written inside a step: the same events in graph, eager and function; xla refuses by name."""

import pytest
import tensorflow as tf

import dualtf


def _write_three(be, logdir):
    writer = tf.summary.create_file_writer(str(logdir))
    x = be.feed("x", tf.float32, shape=[])
    step_count = be.variable(0, dtype=tf.int64, name="step_count")

    def fn(x):
        with writer.as_default():
            tf.summary.scalar("loss", x * 2.0, step=step_count)
        step_count.assign_add(1)
        return x

    step = be.function(fn, [x])
    for i in range(3):
        step(float(i))
    writer.flush()  # made last in the block: graph mode runs it before closing


def _events(logdir):
    found = []
    for path in sorted(logdir.iterdir()):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            found += [(event.step, value.tag, float(tf.make_ndarray(value.tensor))) for value in event.summary.value]
    return found


@pytest.mark.dualtf(modes=["graph", "eager", "function"])
def test_scalars_written_in_a_step(dualtf_mode, tmp_path):
    with dualtf.backend(dualtf_mode) as be:
        _write_three(be, tmp_path)
    assert _events(tmp_path) == [(0, "loss", 0.0), (1, "loss", 2.0), (2, "loss", 4.0)]


@pytest.mark.dualtf(modes=["xla"])
def test_xla_refuses_a_summary_write_by_name(dualtf_backend, tmp_path):
    with pytest.raises(dualtf.DualTFError, match=r"mode 'xla' must not contain a tf.summary write .*WriteSummary"):
        _write_three(dualtf_backend, tmp_path)


@pytest.mark.dualtf(modes=["xla"])
def test_xla_refuses_a_py_function_by_name(dualtf_backend):
    x = dualtf_backend.feed("x", tf.float32, shape=[])
    with pytest.raises(dualtf.DualTFError, match=r"must not contain a Python function .*EagerPyFunc"):
        dualtf_backend.function(lambda x: tf.py_function(lambda v: v * 2, [x], tf.float32), [x])
