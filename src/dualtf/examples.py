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

__all__ = [
    "EXAMPLES",
    "Example",
    "constants",
    "digits",
    "digits_batches",
    "digits_images",
    "feeds_sum",
    "mlp_training",
    "sequential_fit",
    "tf2_quickstart",
    "variables",
]


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


def mlp_training(be: Backend, *, learning_rate: float = 1e-2, init_seed: int = 0, steps_per_call: int = 1) -> Step:
    """One training step of a 64-32-10 MLP: Keras layers, ``tf.GradientTape``, Keras Adam.

    With ``steps_per_call=K`` a call runs K steps on batches stacked K deep
    and returns the K losses (:meth:`dualtf.Backend.function`).

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

    return be.function(train_step, [x, y], steps_per_call=steps_per_call)


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


def digits_images(
    n_train: int = 256, n_test: int = 128
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Digits as the quickstart's ``(x_train, y_train), (x_test, y_test)``: 8x8x1 float32 images, int64 labels.

    >>> (x_train, y_train), _ = digits_images()
    >>> x_train.shape, y_train.dtype
    ((256, 8, 8, 1), dtype('int64'))
    """
    x, y = digits(batch=1)
    images = x.reshape(-1, 8, 8)[..., np.newaxis]
    labels = y.astype("int64")
    return (images[:n_train], labels[:n_train]), (
        images[n_train : n_train + n_test],
        labels[n_train : n_train + n_test],
    )


def tf2_quickstart(be: Backend | None = None, epochs: int = 2) -> tuple[list[list[float]], list[np.ndarray]]:
    """TensorFlow's "advanced quickstart", as written, on digits; returns each epoch's metrics and the weights.

    The metrics per epoch are train loss, train accuracy, test loss, test
    accuracy. Given a backend it runs through dualtf with three entry points
    changed (``be.function`` around each step, ``be.iterate`` around each
    dataset, ``be.evaluate`` on each metric); given none it runs as published.
    Digits' 8x8x1 images stand in for MNIST's 28x28x1, and the shuffle has an
    op-level seed (docs/data.md says why).
    """
    import keras
    import tensorflow as tf
    from keras import Model
    from keras.layers import Conv2D, Dense, Flatten

    class MyModel(Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = Conv2D(32, 3, activation="relu")
            self.flatten = Flatten()
            self.d1 = Dense(128, activation="relu")
            self.d2 = Dense(10)

        def call(self, x: Any) -> Any:
            x = self.conv1(x)
            x = self.flatten(x)
            x = self.d1(x)
            return self.d2(x)

    (x_train, y_train), (x_test, y_test) = digits_images()
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000, seed=1).batch(32)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)

    model = MyModel()
    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam()
    train_loss = keras.metrics.Mean(name="train_loss")
    train_accuracy = keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
    test_loss = keras.metrics.Mean(name="test_loss")
    test_accuracy = keras.metrics.SparseCategoricalAccuracy(name="test_accuracy")

    @tf.function  # type: ignore[untyped-decorator]
    def train_step(images: Any, labels: Any) -> None:
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients: Any = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        train_loss(loss)
        train_accuracy(labels, predictions)

    @tf.function  # type: ignore[untyped-decorator]
    def test_step(images: Any, labels: Any) -> None:
        predictions = model(images, training=False)
        t_loss = loss_object(labels, predictions)
        test_loss(t_loss)
        test_accuracy(labels, predictions)

    def batches(ds: Any) -> Any:
        return ds

    def value(metric: Any) -> Any:
        return metric.result().numpy()

    if be is not None:  # dualtf's entry points
        train_step = be.function(train_step, be.feeds_from(train_ds.element_spec, ["images", "labels"]))
        test_step = be.function(test_step, be.feeds_from(test_ds.element_spec, ["test_images", "test_labels"]))
        batches = be.iterate  # type: ignore[assignment]

        def value(metric: Any) -> Any:
            return be.evaluate(metric.result())

    history = []
    for _ in range(epochs):
        train_loss.reset_state()
        train_accuracy.reset_state()
        test_loss.reset_state()
        test_accuracy.reset_state()
        for images, labels in batches(train_ds):
            train_step(images, labels)
        for test_images, test_labels in batches(test_ds):
            test_step(test_images, test_labels)
        history.append([float(value(m)) for m in (train_loss, train_accuracy, test_loss, test_accuracy)])
    weights = [np.asarray(w.numpy() if be is None else be.evaluate(w)) for w in model.weights]
    return history, weights


def sequential_fit(
    be: Backend | None = None, epochs: int = 3
) -> tuple[dict[str, list[float]], Any, Any, list[np.ndarray]]:
    """A Keras Sequential classifier on digits: compile, fit (shuffle=False), evaluate, predict.

    Returns the History's dict, evaluate's scores, predict's output for 8
    images and the final weights. Given a backend, ``be.keras(model)`` stands
    in for ``model`` in the three calls; given none it runs as plain Keras.
    """
    import keras

    x, labels = digits(batch=1)
    x, y = x[:256], keras.utils.to_categorical(labels[:256], 10)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    runner = model if be is None else be.keras(model)
    history = runner.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    scores = runner.evaluate(x, y, verbose=0)
    predictions = runner.predict(x[:8], verbose=0)
    weights = [np.asarray(w.numpy() if be is None else be.evaluate(w)) for w in model.weights]
    return history.history, scores, predictions, weights


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
