"""Programs of the Keras guides, as their authors wrote them, with ``model`` → ``runner`` for ``fit``,
``evaluate`` and ``predict``: ``runner`` is the model itself in plain Keras and ``be.keras(model)`` in a
dualtf block. Data is generated (or scikit-learn's bundled digits): nothing is downloaded.

Each program takes ``be`` (None: plain Keras) and returns what a comparison needs: the History's
dict, evaluate's scores, predict's outputs and the final weights.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from dualtf.examples import digits


def _runner(model: Any, be: Any) -> Any:
    return model if be is None else be.keras(model)


def _weights(model: Any, be: Any) -> list[np.ndarray]:
    return [np.asarray(w) for w in (model.get_weights() if be is None else be.evaluate(model.weights))]


def _result(history: Any, scores: Any, predictions: Any, model: Any, be: Any) -> dict[str, Any]:
    return {"history": history.history, "scores": scores, "predictions": predictions, "weights": _weights(model, be)}


def _digits(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    x, labels = digits(batch=1)
    return x[:n], labels[:n].astype("int64")


def _classifier() -> Any:
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def sequential_default_shuffle(be: Any = None) -> dict[str, Any]:
    """``fit`` with Keras' defaults: shuffled each epoch, batch size 32."""
    x, y = _digits()
    model = _classifier()
    runner = _runner(model, be)
    history = runner.fit(x, y, epochs=3, verbose=0)
    return _result(history, runner.evaluate(x, y, verbose=0), runner.predict(x[:8], verbose=0), model, be)


def functional_multi_io(be: Any = None, *, as_dicts: bool = False) -> dict[str, Any]:
    """The functional API guide's ticket classifier: three inputs (title, body, tags), two outputs
    (priority, department), trained on lists — or on dicts keyed by the layers' names."""
    num_tags, num_words, num_departments, n = 12, 200, 4, 64
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = keras.layers.Embedding(num_words, 16)(title_input)
    body_features = keras.layers.Embedding(num_words, 8)(body_input)
    title_features = keras.layers.LSTM(16)(title_features)
    body_features = keras.layers.LSTM(8)(body_features)
    x = keras.layers.concatenate([title_features, body_features, tags_input])
    priority_pred = keras.layers.Dense(1, name="priority")(x)
    department_pred = keras.layers.Dense(num_departments, name="department")(x)
    model = keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss=[
            keras.losses.BinaryCrossentropy(from_logits=True),
            keras.losses.CategoricalCrossentropy(from_logits=True),
        ],
        loss_weights=[1.0, 0.2],
    )
    rng = np.random.default_rng(0)
    title_data = rng.integers(num_words, size=(n, 10))
    body_data = rng.integers(num_words, size=(n, 20))
    tags_data = rng.integers(2, size=(n, num_tags)).astype("float32")
    priority_targets = rng.random(size=(n, 1))
    dept_targets = rng.integers(2, size=(n, num_departments))
    runner = _runner(model, be)
    if as_dicts:
        inputs: Any = {"title": title_data, "body": body_data, "tags": tags_data}
        targets: Any = {"priority": priority_targets, "department": dept_targets}
    else:
        inputs, targets = [title_data, body_data, tags_data], [priority_targets, dept_targets]
    history = runner.fit(inputs, targets, epochs=2, batch_size=16, verbose=0)
    scores = runner.evaluate(inputs, targets, batch_size=16, verbose=0)
    return _result(history, scores, runner.predict(inputs, batch_size=16, verbose=0), model, be)


class CustomModel(keras.Model):
    """The "Customizing what happens in fit()" guide's model: its own train_step and test_step."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    def train_step(self, data: Any) -> Any:
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data: Any) -> Any:
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def custom_train_step(be: Any = None) -> dict[str, Any]:
    """The guide's subclassed model with its own train_step and test_step, compiled with metrics=["mae"]."""
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.random((100, 32)), rng.random((100, 1))
    runner = _runner(model, be)
    history = runner.fit(x, y, epochs=3, verbose=0)
    return _result(history, runner.evaluate(x, y, verbose=0), runner.predict(x[:5], verbose=0), model, be)


def tf_data_pipeline(be: Any = None) -> dict[str, Any]:
    """A tf.data pipeline as the tf.data guide builds one: map, cache, shuffle, batch, prefetch; and
    validation on a second dataset."""
    x, y = _digits(320)

    def scale(image: Any, label: Any) -> Any:
        return tf.cast(image, tf.float32) / 16.0, label

    train = (
        tf.data.Dataset.from_tensor_slices((x[:256], y[:256]))
        .map(scale)
        .cache()
        .shuffle(256, seed=1)
        .batch(32)
        .prefetch(tf.data.AUTOTUNE)
    )
    val = tf.data.Dataset.from_tensor_slices((x[256:], y[256:])).map(scale).batch(32)
    model = _classifier()
    runner = _runner(model, be)
    history = runner.fit(train, epochs=3, validation_data=val, verbose=0)
    return _result(history, runner.evaluate(val, verbose=0), runner.predict(val, verbose=0), model, be)


def validation_and_weights(be: Any = None) -> dict[str, Any]:
    """validation_split, class_weight and sample_weight; then validation_data given as a tuple,
    with validation_freq, initial_epoch and steps_per_epoch."""
    x, y = _digits()
    model = _classifier()
    runner = _runner(model, be)
    first = runner.fit(
        x,
        y,
        batch_size=32,
        epochs=2,
        validation_split=0.25,
        class_weight={i: 1.0 + i / 10 for i in range(10)},
        verbose=0,
    )
    sample_weight = np.linspace(0.5, 1.5, len(x))
    history = runner.fit(
        x,
        y,
        sample_weight=sample_weight,
        validation_data=(x[:64], y[:64]),
        validation_freq=2,
        initial_epoch=1,
        epochs=4,
        steps_per_epoch=6,
        verbose=0,
    )
    history.history["first_fit_" + "loss"] = first.history["loss"]
    history.history["first_fit_val_loss"] = first.history["val_loss"]
    return _result(history, runner.evaluate(x, y, verbose=0), runner.predict(x[:8], verbose=0), model, be)


def steps_per_execution(be: Any = None) -> dict[str, Any]:
    """``compile(steps_per_execution=4)``: Keras runs four steps per call of its train function."""
    x, y = _digits(200)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=4)
    runner = _runner(model, be)
    history = runner.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return _result(history, runner.evaluate(x, y, verbose=0), runner.predict(x[:40], verbose=0), model, be)


class DigitsSequence(keras.utils.PyDataset):
    """A ``keras.utils.PyDataset`` of digits, as the PyDataset docs write one."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, idx: int) -> Any:
        low = idx * self.batch_size
        return self.x[low : low + self.batch_size], self.y[low : low + self.batch_size]


def py_dataset(be: Any = None) -> dict[str, Any]:
    """``fit`` on a ``keras.utils.PyDataset``."""
    x, y = _digits()
    model = _classifier()
    runner = _runner(model, be)
    history = runner.fit(DigitsSequence(x, y, 32), epochs=2, verbose=0)
    return _result(
        history, runner.evaluate(DigitsSequence(x, y, 64), verbose=0), runner.predict(x[:8], verbose=0), model, be
    )


def callbacks(be: Any = None, *, directory: str) -> dict[str, Any]:
    """The callbacks guide's callbacks: EarlyStopping (best weights restored), ModelCheckpoint (the best
    model, then loaded back), LearningRateScheduler and a schedule of the optimizer; TensorBoard logs."""
    x, y = _digits()
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=4, decay_rate=0.9)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    checkpoint = os.path.join(directory, "best.keras")
    seen_rates: list[float] = []

    class RecordRate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seen_rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.015, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.TensorBoard(os.path.join(directory, "logs"), histogram_freq=1),
        RecordRate(),
    ]
    runner = _runner(model, be)
    history = runner.fit(
        x[:64], y[:64], epochs=30, batch_size=16, validation_data=(x[64:], y[64:]), callbacks=callbacks, verbose=0
    )
    loaded = keras.saving.load_model(checkpoint)  # in a graph block, into the block's graph
    history.history["stopped_epoch"] = [callbacks[0].stopped_epoch]
    history.history["seen_rates"] = seen_rates
    result = _result(history, runner.evaluate(x, y, verbose=0), runner.predict(x[:8], verbose=0), model, be)
    result["loaded"] = _weights(loaded, be)
    return result


def learning_rate_scheduler(be: Any = None) -> dict[str, Any]:
    """LearningRateScheduler as the callbacks guide writes it: the callback assigns the rate each epoch."""
    x, y = _digits()
    model = _classifier()

    def scheduler(epoch: int, lr: float) -> float:
        return lr if epoch < 1 else lr * float(np.exp(-0.5))

    runner = _runner(model, be)
    history = runner.fit(x, y, epochs=3, callbacks=[keras.callbacks.LearningRateScheduler(scheduler)], verbose=0)
    return _result(history, runner.evaluate(x, y, verbose=0), runner.predict(x[:8], verbose=0), model, be)


def dropout_classifier(be: Any = None) -> dict[str, Any]:
    """A classifier with Dropout: the training steps draw random masks."""
    x, y = _digits()
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    runner = _runner(model, be)
    history = runner.fit(x, y, epochs=2, verbose=0)
    return _result(history, runner.evaluate(x, y, verbose=0), runner.predict(x[:8], verbose=0), model, be)
