"""The registry of what dualtf replaces in TensorFlow: every target resolves by name, and outside a
step's fn — in the block, in the user's own graphs and Sessions, in other threads — TensorFlow is
TensorFlow."""

import threading

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf._backends.tensors import eager_scope
from dualtf._backends.tf1 import registry
from dualtf._backends.tf1.registry import FEATURES, REPLACEMENTS, resolve

_ORIGINALS = {row.target: resolve(row.target)[2] for row in REPLACEMENTS}  # at collection, before any backend


def _now():
    return {row.target: resolve(row.target)[2] for row in REPLACEMENTS}


@pytest.mark.parametrize("row", REPLACEMENTS, ids=[row.target for row in REPLACEMENTS])
def test_every_target_resolves_by_name(row):
    """A TensorFlow that moves one target fails here, by the target's name."""
    owner, name, original = resolve(row.target)
    assert getattr(owner, name) is not None and original is _ORIGINALS[row.target]
    assert row.held_while in ("step", "keras loop"), "a row held for a backend's life needs a written reason"
    assert row.why and row.feature in FEATURES


def test_a_missing_target_makes_only_its_feature_unavailable(monkeypatch):
    missing = registry.Replacement("tensorflow.python.ops.no_such_module:nothing", "tf1_calls", "step", "-", id)
    monkeypatch.setitem(registry.FEATURES, "nowhere", (missing,))
    registry.missing.cache_clear()
    try:
        assert "no_such_module:nothing" in registry.missing("nowhere")
        with registry.hold(["nowhere"]):  # skipped: nothing installed, nothing raised
            pass
        with pytest.raises(dualtf.PrivateAPIError, match=r"`tensorflow.python.ops.no_such_module:nothing`"):
            resolve(missing.target)
    finally:
        registry.missing.cache_clear()


def _tf1_session_program():
    """A TF1 program of the user's own, run as TF1 runs it: its own graph, seed, placeholder, Session."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(1)
        x = tf.compat.v1.placeholder(tf.float32, [None])
        w = tf.compat.v1.get_variable("w", [2], initializer=tf.compat.v1.random_normal_initializer())
        lr = tf.compat.v1.train.exponential_decay(0.1, tf.compat.v1.train.get_or_create_global_step(), 10, 0.9)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return sess.run([x * w, tf.compat.v1.random_uniform([2]), lr], {x: [1.0, 2.0]})


def test_outside_steps_tensorflow_is_tensorflow(dualtf_mode):
    """A backend of each mode with the switch: outside its steps every target is TensorFlow's own, and a
    TF1 Session program and a raw seeded draw give TensorFlow's own numbers."""
    want_session = _tf1_session_program()
    tf.random.set_seed(5)
    want_draw = tf.random.uniform([3]).numpy()
    with dualtf.backend(dualtf_mode, seed=0, deterministic_random=True) as be:
        step = be.function(lambda x: x + tf.random.uniform([2]), [be.feed("x", tf.float32, [2])])
        step([0.0, 0.0])
        assert _now() == _ORIGINALS  # every registered target is TensorFlow's own object, in the block
        got_session = _tf1_session_program()
        with eager_scope():  # graph mode's block has its graph as the default: an eager draw, as outside
            tf.random.set_seed(5)
            got_draw = tf.random.uniform([3]).numpy()
    tf.random.set_seed(None)  # no global seed left behind for the next test
    for got, want in zip(got_session, want_session, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_draw, want_draw)
    assert _now() == _ORIGINALS


def test_replacements_are_held_only_in_the_thread_running_a_step(dualtf_mode):
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def fn(x):
        if "inside" not in seen:
            seen["inside"] = (
                tf.compat.v1.train.Optimizer.compute_gradients
                is not _ORIGINALS["tensorflow.python.training.optimizer:Optimizer.compute_gradients"]
            )
            entered.set()
            release.wait(10)
        return x * 2

    def other_thread():
        entered.wait(10)
        try:  # a Session made in another thread while a step builds: TensorFlow's own, not refused
            with tf.compat.v1.Session(graph=tf.Graph()):
                seen["other thread"] = "made"
        finally:
            release.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with dualtf.backend(dualtf_mode) as be:
        be.function(fn, [be.feed("x", tf.float32, [None])])
    thread.join()
    assert seen == {"inside": True, "other thread": "made"}
    assert _now() == _ORIGINALS


def test_architecture_md_shows_the_registry_as_it_is():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    assert registry.markdown_table() in page, "regenerate with registry.markdown_table()"
