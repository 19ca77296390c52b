"""``tf.compat.v1.layers`` with Keras 3: TensorFlow routes it to Keras, which has no TF1 layers.

While a backend is open, ``tf.compat.v1.layers`` is a stand-in that gives TensorFlow's own
attribute wherever TensorFlow has one, and where Keras 3 refuses ("`dense` is not available
with Keras 3") the TF1 layer from the ``tf_keras`` package (``pip install 'dualtf[tf1]'``) —
or, without it, a :class:`~dualtf.NotInstalledError` naming the layer and what to install,
raised where the step is built, before anything runs.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import Any

from .._tf_private import tf_keras_legacy_layers
from .installed import Installed

__all__ = ["tf1_layers"]


class _TF1Layers(types.ModuleType):
    """``tf.compat.v1.layers``: TensorFlow's, with tf_keras's TF1 layers where Keras 3 has none."""

    def __init__(self, original: Any):
        super().__init__("tensorflow.compat.v1.layers", getattr(original, "__doc__", None))
        self._dualtf_original = original

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(self._dualtf_original, name)
        except AttributeError as exc:
            if "not available with Keras 3" not in str(exc):
                raise
        return getattr(tf_keras_legacy_layers(f"tf.compat.v1.layers.{name}"), name)


def _install() -> Callable[[], None]:
    # The first `import tensorflow.compat.v1` (TF1 code's own, or tf_keras's when it is imported)
    # binds tf.compat to a new module object: done here first, so that the one patched stays.
    v1 = importlib.import_module("tensorflow.compat.v1")
    original = v1.layers
    setattr(v1, "layers", _TF1Layers(original))  # noqa: B010 - the module is typed without it

    def uninstall() -> None:
        setattr(v1, "layers", original)  # noqa: B010

    return uninstall


#: Held by every open backend.
tf1_layers = Installed(_install)
