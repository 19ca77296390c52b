"""Eager mode is eager on every call, the first included; eager-only code is refused by name elsewhere."""

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf.testing import assert_modes_agree


@tf.function
def _helper(x):
    return x + 1.0, tf.executing_eagerly()


def _eager_only(be):
    """What users switch to eager mode for: .numpy(), a Python `if` on a value, print, eager helpers."""
    x = be.feed("x", tf.float32, [None])
    seen = be.seen = []

    def fn(x):
        seen.append((x.numpy().tolist(), tf.executing_eagerly(), bool(_helper(x)[1])))
        print("values", x.numpy())
        return x * 2 if float(tf.reduce_sum(x)) > 0 else x

    return be.function(fn, [x])


@pytest.mark.dualtf(modes=["eager"])
def test_eager_steps_run_eagerly_from_the_first_call(dualtf_backend, capsys):
    be = dualtf_backend
    step = _eager_only(be)
    assert be.seen == []  # the build's check trace stopped at .numpy(): calls meet values only
    assert step([1.0, 2.0]).tolist() == [2.0, 4.0]
    assert step([-1.0, -2.0]).tolist() == [-1.0, -2.0]
    assert be.seen == [([1.0, 2.0], True, True), ([-1.0, -2.0], True, True)]
    assert capsys.readouterr().out.count("values [") == 2


@pytest.mark.dualtf(modes=["graph", "function", "xla"])
def test_eager_only_code_is_refused_at_build_naming_the_construct(dualtf_backend):
    be = dualtf_backend
    with pytest.raises(dualtf.DualTFError, match=r"Step `fn` uses eager-only code \(`.numpy\(\)` of a tensor") as info:
        _eager_only(be)
    assert f"mode {be.mode!r} builds `fn` into a graph" in str(info.value)
    assert "test_eager.py" in str(info.value) and "x.numpy()" in str(info.value)  # the user's line
    assert be.variables == []


def test_assert_modes_agree_says_eager_only():
    with pytest.raises(dualtf.DualTFError, match="eager-only code"):
        assert_modes_agree(_eager_only, [[1.0]], modes=["eager", "function"])


@pytest.mark.dualtf(modes=["eager"])
def test_eager_only_tf1_code_keeps_one_set_of_variables(dualtf_backend):
    """The build's trace fails on .numpy(): what it made is forgotten, and the first eager call makes it."""
    be = dualtf_backend

    def fn(x):
        w = tf.compat.v1.get_variable("w", [2], initializer=tf.compat.v1.ones_initializer())
        if x.numpy().sum() > 0:
            w.assign_add(x)
        return w.read_value()

    step = be.function(fn, [be.feed("x", tf.float32, [2])])
    assert be.variables == []
    assert step([1.0, 1.0]).tolist() == [2.0, 2.0]
    assert step([-1.0, -1.0]).tolist() == [2.0, 2.0]
    assert [v.name for v in be.variables] == ["w:0"]


@pytest.mark.dualtf(modes=["eager"])
def test_eager_only_fused_steps_run_each_step_eagerly(dualtf_backend):
    be = dualtf_backend
    total = be.variable(0.0)

    def fn(x):
        if x.numpy() > 0:
            total.assign_add(x)
        return total.read_value()

    step = be.function(fn, [be.feed("x", tf.float32, [])], steps_per_call=3)
    np.testing.assert_array_equal(step([1.0, -5.0, 2.0]), [1.0, 1.0, 3.0])
