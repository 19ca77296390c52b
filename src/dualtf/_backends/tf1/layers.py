"""``tf.compat.v1.layers`` and ``tf.compat.v1.nn.rnn_cell`` with Keras 3, inside a step.

TensorFlow routes both to Keras through a lazy loader (``KerasLazyLoader``), and Keras 3 has
no TF1 layers or cells ("`dense` is not available with Keras 3"). While a step's ``fn`` runs,
the loader's attribute lookup gives, where Keras 3 refuses, the TF1 layer or cell from the
``tf_keras`` package (``pip install 'dualtf[tf1]'``) — or, without it, a
:class:`~dualtf.NotInstalledError` naming it and what to install, raised where the step is
built, before anything runs. The loader is the one object every way of reaching them goes
through (``tf.compat.v1.layers``, an alias ``tf1 = tf.compat.v1`` made before the block,
``from tensorflow.compat.v1 import layers``), so all of them work alike. Outside a step's
``fn`` it is TensorFlow's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..._tf_private import tf_keras_legacy_layers
from .context import current

__all__ = ["ROUTED", "tf1_layers_from_tf_keras"]

#: The loaders routed to tf_keras: their Keras submodule -> what the user wrote, under ``tf.compat.v1``.
ROUTED = {"__internal__.legacy.layers": "layers", "__internal__.legacy.rnn_cell": "nn.rnn_cell"}


def tf1_layers_from_tf_keras(original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """``KerasLazyLoader.__getattr__``, with tf_keras's TF1 layers and cells inside a step's fn."""

    def __getattr__(self: Any, item: str) -> Any:
        try:
            return original(self, item)
        except AttributeError as exc:
            if current() is None or "not available with Keras 3" not in str(exc):
                raise
            submodule = vars(self).get("_tfll_submodule")
            path = ROUTED.get(submodule or "")
            if path is None:
                raise
        legacy = tf_keras_legacy_layers(f"tf.compat.v1.{path}.{item}", path.rsplit(".", 1)[-1])
        return getattr(legacy, item)

    return functools.update_wrapper(__getattr__, original)
