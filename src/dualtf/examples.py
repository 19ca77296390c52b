"""Example programs: four small programs every mode must run with the same numbers.

Each is a *program* (see :mod:`dualtf.program`): it takes a backend, declares
its state and feeds, and returns the step made by :meth:`dualtf.Backend.function`.
:data:`EXAMPLES` pairs each with sample feeds; ``dualtf demo`` profiles them all.

>>> import dualtf
>>> with dualtf.backend("graph") as be:
...     feeds_sum(be)([0, 1, 2], [10, 20, 30]).tolist()
[10, 21, 32]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import DualTFError

if TYPE_CHECKING:
    from ._backends.base import Backend
    from ._backends.step import Step

__all__ = ["EXAMPLES", "Example", "constants", "digits", "digits_batches", "feeds_sum", "mlp_training", "variables"]


def constants(be: Backend) -> Step:
    """``tf.add([0, 1, 2], [10, 20, 30])``, a step with no feeds.

    >>> import dualtf
    >>> with dualtf.backend("eager") as be:
    ...     constants(be)().tolist()
    [10, 21, 32]
    """
    import tensorflow as tf

    a = be.constant([0, 1, 2])
    b = be.constant([10, 20, 30])
    return be.function(lambda: tf.add(a, b), [])


def variables(be: Backend) -> Step:
    """``matmul(w, x)`` with ``w = [[1], [2]]`` a variable: no initializer call by the user.

    >>> import dualtf
    >>> with dualtf.backend("graph") as be:
    ...     variables(be)().tolist()
    [[3.0, 4.0], [6.0, 8.0]]
    """
    import tensorflow as tf

    w = be.variable([[1.0], [2.0]], name="w")
    x = be.constant([[3.0, 4.0]])
    return be.function(lambda: tf.matmul(w, x), [])


def feeds_sum(be: Backend) -> Step:
    """Two int32 feeds summed.

    >>> import dualtf
    >>> with dualtf.backend("function") as be:
    ...     feeds_sum(be)(a=[0, 1, 2], b=[10, 20, 30]).tolist()
    [10, 21, 32]
    """
    import tensorflow as tf

    a = be.feed("a", tf.int32, shape=[None])
    b = be.feed("b", tf.int32, shape=[None])
    return be.function(tf.add, [a, b])


def mlp_training(be: Backend, *, learning_rate: float = 1e-2, init_seed: int = 0) -> Step:
    """One training step of a 64-32-10 MLP: Keras layers, ``tf.GradientTape``, Keras Adam.

    The layers' initializers are seeded, so every mode starts from the same
    weights; the step returns the batch's mean cross-entropy loss. The same
    code runs under a strategy: the optimizer's slots are built up front (a
    tf.function may not create them under MirroredStrategy), and the loss the
    gradients come from is divided by the replica count, because Keras
    optimizers sum gradients across replicas (``tf.nn.compute_average_loss``'s
    rule; on one device the count is 1).

    >>> import dualtf, numpy as np
    >>> x, y = np.zeros((4, 64), np.float32), np.zeros(4, np.int32)
    >>> with dualtf.backend("graph") as be:
    ...     float(mlp_training(be)(x, y)) > 0
    True
    """
    import keras
    import tensorflow as tf

    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(init_seed)),
            keras.layers.Dense(10, kernel_initializer=keras.initializers.GlorotUniform(init_seed + 1)),
        ]
    )
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    x = be.feed("x", tf.float32, shape=[None, 64])
    y = be.feed("y", tf.int32, shape=[None])

    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = model(x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            replicas = tf.distribute.get_replica_context().num_replicas_in_sync
            scaled = loss / tf.cast(replicas, loss.dtype)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return be.function(train_step, [x, y])


def digits(batch: int = 32, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits (8x8 images, 1797 samples), scaled to [0, 1], shuffled.

    Returns ``(x, y)``: float32 ``(n, 64)`` and int32 ``(n,)``, trimmed to a
    multiple of ``batch``. Needs scikit-learn (``pip install dualtf[demo]``).

    >>> x, y = digits()
    >>> x.shape, y.shape
    ((1792, 64), (1792,))
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DualTFError(
            "The digits dataset needs scikit-learn, which is not installed. "
            "Install it with: pip install 'dualtf[demo]' (or pip install scikit-learn)."
        ) from None
    data = load_digits()
    order = np.random.RandomState(seed).permutation(len(data.target))
    n = len(order) // batch * batch
    x = (data.data[order[:n]] / 16.0).astype(np.float32)
    y = data.target[order[:n]].astype(np.int32)
    return x, y


def digits_batches(batch: int = 32) -> Callable[[int], dict[str, np.ndarray]]:
    """Call ``i`` of a run gets the ``i``-th batch of :func:`digits`, as ``{"x": ..., "y": ...}``.

    >>> digits_batches()(1)["x"].shape
    (32, 64)
    """
    x, y = digits(batch)

    def nth(i: int) -> dict[str, np.ndarray]:
        start = (i * batch) % len(y)
        return {"x": x[start : start + batch], "y": y[start : start + batch]}

    return nth


@dataclass(frozen=True)
class Example:
    """An example program with the feeds it is run with and what one call computes.

    >>> EXAMPLES[0].name
    'constants'
    """

    name: str
    program: Callable[[Backend], Step]
    make_feeds: Callable[[], dict[str, Any]]
    #: Examples per call, for throughput; 0 when the step has no batch.
    batch: int = 0


def _first_digits_batch() -> dict[str, Any]:
    return digits_batches()(0)


def _sum_feeds() -> dict[str, Any]:
    return {"a": np.array([0, 1, 2], np.int32), "b": np.array([10, 20, 30], np.int32)}


#: The example programs, in the order the demo shows them.
EXAMPLES: tuple[Example, ...] = (
    Example("constants", constants, dict),
    Example("variables", variables, dict),
    Example("feeds", feeds_sum, _sum_feeds, 3),
    Example("mlp_training", mlp_training, _first_digits_batch, 32),
)
