"""be.keras(model): Keras' fit, evaluate and predict follow the backend's mode, and put the model back."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dualtf

X = np.ones((8, 2), np.float32)
Y = np.zeros((8, 1), np.float32)


class Recorder(keras.layers.Layer):
    """Records, at each call, whether it ran eagerly."""

    def __init__(self):
        super().__init__()
        self.eager_calls = []

    def call(self, x):
        self.eager_calls.append(tf.executing_eagerly())
        return x


class Settings(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = (self.model.run_eagerly, self.model.jit_compile)


def _model():
    recorder = Recorder()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1), recorder])
    model.compile(optimizer="sgd", loss="mse")
    recorder.eager_calls.clear()  # Keras built the model symbolically: record fit's calls only
    return model, recorder


EXPECTED = {  # (run_eagerly, jit_compile) during fit, and whether the layer ran eagerly
    "eager": ((True, False), True),
    "function": ((False, False), False),
    "xla": ((False, True), False),
}


@pytest.mark.dualtf(modes=["eager", "function", "xla"])
def test_fit_follows_the_mode_and_puts_the_model_back(dualtf_backend):
    model, recorder = _model()
    settings = Settings()
    history = dualtf_backend.keras(model).fit(X, Y, epochs=2, batch_size=4, verbose=0, callbacks=[settings])
    (seen, eager), mode = EXPECTED[dualtf_backend.mode], dualtf_backend.mode
    assert settings.seen == seen, mode
    assert recorder.eager_calls and all(call == eager for call in recorder.eager_calls), mode
    assert (model.run_eagerly, model.jit_compile) == (False, False)  # the model's own, put back
    assert len(history.history["loss"]) == 2


@pytest.mark.dualtf(modes=["graph"])
def test_graph_fit_runs_the_models_steps_through_the_session(dualtf_backend):
    model, recorder = _model()
    history = dualtf_backend.keras(model).fit(X, Y, epochs=3, batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 3 and history.history["loss"][2] < history.history["loss"][0]
    assert recorder.eager_calls and not any(recorder.eager_calls)  # built into the graph
    assert dualtf_backend.keras(model).predict(X, batch_size=3).shape == (8, 1)
    assert isinstance(dualtf_backend.keras(model).evaluate(X, Y, return_dict=True)["loss"], float)


@pytest.mark.dualtf(modes=["graph"])
@pytest.mark.parametrize(
    ("call", "kwargs", "received"),
    [
        ("fit", {"callbacks": []}, r"callbacks=\[\]"),
        ("fit", {"shuffle": True}, r"shuffle=True"),
        ("fit", {"validation_split": 0.5}, r"validation_split=0.5"),
        ("evaluate", {"steps": 1}, r"steps=1"),
    ],
)
def test_graph_loop_refuses_what_it_does_not_implement_by_name(dualtf_backend, call, kwargs, received):
    model, _ = _model()
    with pytest.raises(dualtf.DualTFError, match=rf"`{call}` in mode 'graph' takes .* Received: {received}\."):
        getattr(dualtf_backend.keras(model), call)(X, Y, **kwargs)


@pytest.mark.dualtf(modes=["graph"])
def test_graph_loop_refuses_a_dataset_by_name(dualtf_backend):
    model, _ = _model()
    with pytest.raises(dualtf.DualTFError, match=r"takes NumPy arrays \(iterate a dataset with be.iterate\)"):
        dualtf_backend.keras(model).fit(tf.data.Dataset.from_tensor_slices((X, Y)).batch(2))


def test_keras_needs_a_model(dualtf_backend):
    with pytest.raises(dualtf.DualTFError, match=r"The model of keras\(\) must be a keras.Model\. Received: int"):
        dualtf_backend.keras(3)
