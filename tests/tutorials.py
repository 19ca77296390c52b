"""Public tutorial programs as their authors wrote them, on scikit-learn's bundled digits.

``tf2_quickstart`` is TensorFlow's "advanced quickstart" (a subclassed Keras model,
``@tf.function`` train and test steps, metrics reset each epoch). Given a backend it
runs through dualtf with three entry points changed: ``be.function`` around each step,
``be.iterate`` around each dataset, ``be.evaluate`` on each metric; given none it runs
as published. Digits' 8x8x1 images stand in for MNIST's 28x28x1 (no downloads here),
and the shuffle has an op-level seed (see docs/data.md).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import Model
from keras.layers import Conv2D, Dense, Flatten

from dualtf.examples import digits


def digits_images(n_train=256, n_test=128):
    x, y = digits(batch=1)
    images = x.reshape(-1, 8, 8)[..., tf.newaxis]
    labels = y.astype("int64")
    return (images[:n_train], labels[:n_train]), (
        images[n_train : n_train + n_test],
        labels[n_train : n_train + n_test],
    )


class MyModel(Model):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(32, 3, activation="relu")
        self.flatten = Flatten()
        self.d1 = Dense(128, activation="relu")
        self.d2 = Dense(10)

    def call(self, x):
        x = self.conv1(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)


def tf2_quickstart(be=None, epochs=2):
    """The quickstart's training loop; returns each epoch's four metrics and the final weights."""
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

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        train_loss(loss)
        train_accuracy(labels, predictions)

    @tf.function
    def test_step(images, labels):
        predictions = model(images, training=False)
        t_loss = loss_object(labels, predictions)
        test_loss(t_loss)
        test_accuracy(labels, predictions)

    def batches(ds):
        return ds

    def value(metric):
        return metric.result().numpy()

    if be is not None:  # dualtf's entry points
        train_step = be.function(train_step, be.feeds_from(train_ds.element_spec, ["images", "labels"]))
        test_step = be.function(test_step, be.feeds_from(test_ds.element_spec, ["test_images", "test_labels"]))
        batches = be.iterate

        def value(metric):
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


def sequential_fit(be=None, epochs=3):
    """The Keras Sequential classifier: compile, fit 3 epochs (shuffle=False), evaluate, predict.

    Given a backend, ``be.keras(model)`` stands in for ``model`` in the three calls.
    """
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
