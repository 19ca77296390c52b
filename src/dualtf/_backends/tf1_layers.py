"""``tf.compat.v1.layers`` and ``tf.compat.v1.nn.rnn_cell`` with Keras 3: TensorFlow routes them to
Keras, which has no TF1 layers or cells.

While a backend is open, each is a stand-in that gives TensorFlow's own attribute wherever
TensorFlow has one, and where Keras 3 refuses ("`dense` is not available with Keras 3") the TF1
layer or cell from the ``tf_keras`` package (``pip install 'dualtf[tf1]'``) — or, without it, a
:class:`~dualtf.NotInstalledError` naming it and what to install, raised where the step is
built, before anything runs.
"""

from __future__ import annotations

import functools
import importlib
import types
from collections.abc import Callable
from typing import Any

from .._tf_private import tf_keras_legacy_layers
from .installed import Installed

__all__ = ["tf1_layers"]


#: Where each lives under ``tf.compat.v1`` -> its module in tf_keras (``__internal__.legacy.<name>``).
ROUTED = {"layers": "layers", "nn.rnn_cell": "rnn_cell"}


class _TF1Layers(types.ModuleType):
    """``tf.compat.v1.<path>``: TensorFlow's, with tf_keras's where Keras 3 has none."""

    def __init__(self, path: str, original: Any):
        super().__init__(f"tensorflow.compat.v1.{path}", getattr(original, "__doc__", None))
        self._dualtf_path = path
        self._dualtf_original = original

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(self._dualtf_original, name)
        except AttributeError as exc:
            if "not available with Keras 3" not in str(exc):
                raise
        legacy = tf_keras_legacy_layers(f"tf.compat.v1.{self._dualtf_path}.{name}", ROUTED[self._dualtf_path])
        return getattr(legacy, name)


def _install() -> Callable[[], None]:
    # The first `import tensorflow.compat.v1` (TF1 code's own, or tf_keras's when it is imported)
    # binds tf.compat to a new module object: done here first, so that the one patched stays.
    v1 = importlib.import_module("tensorflow.compat.v1")
    undo = []
    for path in ROUTED:
        *parents, name = path.split(".")
        owner = functools.reduce(getattr, parents, v1)
        original = getattr(owner, name)
        setattr(owner, name, _TF1Layers(path, original))
        undo.append(functools.partial(setattr, owner, name, original))

    def uninstall() -> None:
        for step in undo:
            step()

    return uninstall


#: Held by every open backend.
tf1_layers = Installed(_install)
