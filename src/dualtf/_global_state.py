"""Process-wide state a backend or a test may change, saved and put back in one place.

A backend saves it when made and restores it when closed; the pytest plugin
uses the same snapshot around each test. What is covered:

- Keras' global seed and its global ``SeedGenerator`` variable: each backend
  starts without a generator, because one made inside a graph backend's block
  would belong to that graph and break every later eager use;
- with a seed: Python's and NumPy's generator states and TensorFlow's global
  seed (``tf.random.set_seed``; graph mode seeds its own graph instead);
- ``tf.config.run_functions_eagerly``;
- the default graph, so that a test leaving one entered is reported.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import numpy as np
import tensorflow as tf

from ._tf_private import keras_global_state, load

__all__ = ["GlobalState", "clear_keras_session", "seed_everything"]

_KERAS_KEYS = ("global_seed_generator", "global_random_seed")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow (the default graph's seed inside a graph block) and Keras."""
    try:
        import keras
    except ImportError:  # tensorflow without keras: seed what remains
        random.seed(seed)
        np.random.seed(seed)
        tf.random.set_seed(seed)
        return
    keras.utils.set_random_seed(seed)


def _eager_global_seed() -> int | None:
    with load("eager_mode")():
        seed: int | None = tf.compat.v1.get_seed(None)[0]
    return seed


class GlobalState:
    """A snapshot of process-wide TensorFlow, Keras, Python and NumPy state; :meth:`restore` puts it back.

    With ``seeds=True`` the random generators are saved too (do that before
    seeding). Keras' global seed generator is cleared on capture.

    >>> state = GlobalState(seeds=True)
    >>> seed_everything(3)
    >>> state.restore()
    >>> tf.compat.v1.get_seed(None)[0] is None
    True
    """

    def __init__(self, *, seeds: bool) -> None:
        self._functions_eagerly = tf.config.functions_run_eagerly()
        self._default_graph = tf.compat.v1.get_default_graph()
        self._keras = self._capture_keras()
        self._seeds: tuple[Any, Any, int | None] | None = None
        if seeds:
            self._seeds = (random.getstate(), np.random.get_state(), _eager_global_seed())

    @staticmethod
    def _capture_keras() -> dict[str, Any]:
        module = keras_global_state()
        if module is None:
            return {key: None for key in _KERAS_KEYS}
        saved = {key: module.get_global_attribute(key) for key in _KERAS_KEYS}
        module.set_global_attribute("global_seed_generator", None)
        return saved

    def inherit(self, older: GlobalState) -> GlobalState:
        """This snapshot with what ``older`` saved in place of its own, for when ``older``'s owner
        closes first: the state to put back at the end is then the one from before ``older``."""
        merged = GlobalState.__new__(GlobalState)
        merged._functions_eagerly = older._functions_eagerly
        merged._default_graph = self._default_graph
        merged._keras = older._keras
        merged._seeds = older._seeds if older._seeds is not None else self._seeds
        return merged

    def default_graph_changed(self) -> bool:
        """Whether another default graph is entered now than when the snapshot was taken."""
        return tf.compat.v1.get_default_graph() is not self._default_graph

    def restore(self) -> None:
        """Put back what was saved (idempotent)."""
        tf.config.run_functions_eagerly(self._functions_eagerly)
        module = keras_global_state()  # Keras may have been imported inside the block
        if module is not None:
            for key, value in self._keras.items():
                module.set_global_attribute(key, value)
        if self._seeds is not None:
            python_state, numpy_state, tf_seed = self._seeds
            random.setstate(python_state)
            np.random.set_state(numpy_state)
            with load("eager_mode")():
                tf.random.set_seed(tf_seed)  # type: ignore[arg-type]  # None: no global seed, as before
            self._seeds = None


def clear_keras_session() -> None:
    """Keras' ``clear_session`` (name counters, cached graphs), if Keras is imported; never at a graph block."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session(free_memory=False)
