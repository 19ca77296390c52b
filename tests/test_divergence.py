"""Saying *where* modes disagree: each test plants one known divergence and checks that the report finds
exactly it — the first call, the variables that differ, and the op and line that made the first value
that differs — in every mode, through the plugin."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dualtf import ModeError
from dualtf.testing import Divergence, assert_modes_agree, find_divergence

RNG = np.random.default_rng(0)


def _other(mode: str) -> str:
    """A second mode to compare ``mode`` with."""
    return "function" if mode == "graph" else "graph"


def noisy(be):
    """Draws without deterministic_random: each mode draws its own numbers."""
    w = be.variable([1.0, 2.0, 3.0], name="w")
    x = be.feed("x", tf.float32, shape=[3])

    def step(x):
        scaled = x * w
        noise = tf.random.uniform([3])
        total = scaled + noise
        w.assign_add(total)
        return tf.reduce_sum(total)

    return be.function(step, [x])


def test_a_random_op_without_the_switch_is_named_with_its_line(dualtf_mode):
    found = find_divergence(noisy, [[1.0, 1.0, 1.0]], [_other(dualtf_mode), dualtf_mode], steps=2)
    assert isinstance(found, Divergence)
    assert found.call == 1
    assert [g.what for g in found.outputs] == ["output"]
    assert [g.what for g in found.variables] == ["w"]
    op = found.first_op
    assert op is not None, found.why_no_op
    for op_type, line in ((op.op_type, op.line), (op.other_op_type, op.other_line)):
        assert op_type in ("RandomUniform", "eager")
        assert line is not None and line.endswith("(noise = tf.random.uniform([3]))")
    assert op.shape == (3,)
    # the line before agrees: the op found is the first that differs, not merely one that does
    assert "scaled" not in op.op and "mul" not in op.op.lower()


def test_the_same_program_under_the_switch_agrees(dualtf_mode):
    feeds = [[1.0, 1.0, 1.0]]
    pair = [_other(dualtf_mode), dualtf_mode]
    assert find_divergence(noisy, feeds, pair, steps=2, deterministic_random=True) is None


def test_a_sum_xla_reorders_is_named_with_its_line():
    big = RNG.standard_normal(1 << 15) * 3e5
    x = np.concatenate([big, -big])
    RNG.shuffle(x)
    x = (x + RNG.standard_normal(1 << 16)).astype(np.float32)  # a sum that cancels: the order shows

    def cancelling(be):
        v = be.feed("v", tf.float32, shape=[1 << 16])

        def step(v):
            doubled = v * 2.0
            total = tf.reduce_sum(doubled)
            return total + 1.0

        return be.function(step, [v])

    found = find_divergence(cancelling, [x], ["function", "xla"])
    assert found is not None and found.first_op is not None
    assert found.first_op.op_type == "Sum"
    assert found.first_op.line.endswith("(total = tf.reduce_sum(doubled))")
    assert found.first_op.max_rel > 1e-5
    assert "reduce_sum" in found.table()


def planted_from_call_3(planted_mode):
    """A program whose every mode counts calls, and mode ``planted_mode`` adds 0.5 to `w` from the third on."""

    def program(be):
        w = be.variable(np.zeros(2, np.float32), name="w")
        count = be.variable(0.0, name="count")
        x = be.feed("x", tf.float32, shape=[2])
        extra = 0.5 if be.mode == planted_mode else 0.0

        def step(x):
            n = count.assign_add(1.0)
            update = x * 0.1
            shifted = update + tf.cast(n >= 3.0, tf.float32) * extra
            w.assign_add(shifted)
            return n

        return be.function(step, [x])

    return program


def test_the_first_call_the_variable_and_the_op_are_found(dualtf_mode):
    pair = [_other(dualtf_mode), dualtf_mode]
    found = find_divergence(planted_from_call_3(dualtf_mode), [[1.0, 2.0]], pair, steps=5)
    assert found is not None
    assert found.call == 3
    assert found.outputs == ()  # the returned count agrees; only a variable differs
    assert [(g.what, g.max_abs) for g in found.variables] == [("w", pytest.approx(0.5))]
    assert found.first_op is not None
    assert "shifted = update + tf.cast(n >= 3.0, tf.float32) * extra" in found.first_op.line
    assert found.first_op.max_abs == pytest.approx(0.5)
    reported = json.loads(found.to_json())
    assert reported["call"] == 3 and reported["variables"][0]["what"] == "w"
    assert reported["first_op"]["line"] == found.first_op.line


def test_assert_modes_agree_says_where(dualtf_mode):
    with pytest.raises(AssertionError) as failure:
        assert_modes_agree(
            planted_from_call_3(dualtf_mode), [[1.0, 2.0]], steps=4, modes=[_other(dualtf_mode), dualtf_mode]
        )
    message = str(failure.value)
    assert "variable #0 `w` after 4 call(s)" in message  # what it said before
    assert f"{_other(dualtf_mode)} and {dualtf_mode} first differ on call 3" in message
    assert "tf.cast(n >= 3.0" in message
    assert failure.value.divergence.call == 3


def test_localize_false_runs_nothing_more(dualtf_mode):
    with pytest.raises(AssertionError) as failure:
        modes = [_other(dualtf_mode), dualtf_mode]
        assert_modes_agree(planted_from_call_3(dualtf_mode), [[1.0, 2.0]], steps=3, modes=modes, localize=False)
    assert failure.value.divergence is None
    assert "first differ" not in str(failure.value)


def test_a_fused_step_is_compared_but_not_probed(dualtf_mode):
    def fused(be):
        w = be.variable(1.0, name="w")
        x = be.feed("x", tf.float32, shape=[])
        bias = 0.25 if be.mode == dualtf_mode else 0.0
        return be.function(lambda x: w.assign_add(x + bias), [x], steps_per_call=2)

    found = find_divergence(fused, [[1.0, 1.0]], [_other(dualtf_mode), dualtf_mode])
    assert found is not None and found.call == 1
    assert found.first_op is None
    assert "gave no intermediate values" in found.why_no_op
    assert "not found" in found.table()


def test_find_divergence_compares_two_modes():
    with pytest.raises(ModeError, match="exactly two modes"):
        find_divergence(noisy, [[1.0, 1.0, 1.0]], ["graph"])
