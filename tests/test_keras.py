"""be.keras(model): Keras' own fit, evaluate and predict in every mode — only the step differs — with
the same numbers as plain Keras on the Keras guides' programs, and Keras' own refusals before any update."""

import functools
import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf._backends.tensors import eager_scope
from dualtf._global_state import GlobalState

_spec = importlib.util.spec_from_file_location("keras_guides", Path(__file__).parent / "keras_guides.py")
keras_guides = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(keras_guides)

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


EXPECTED = {  # (run_eagerly, jit_compile) Keras' loop sees, and whether the model's layers ran eagerly
    "graph": ((False, False), False),  # built into the backend's graph: the Session runs the steps
    "eager": ((True, False), True),
    "function": ((False, False), False),
    "xla": ((False, True), False),
}


def test_fit_follows_the_mode_and_puts_the_model_back(dualtf_backend):
    model, recorder = _model()
    settings = Settings()
    history = dualtf_backend.keras(model).fit(X, Y, epochs=2, batch_size=4, verbose=0, callbacks=[settings])
    (seen, eager), mode = EXPECTED[dualtf_backend.mode], dualtf_backend.mode
    assert settings.seen == seen, mode
    assert recorder.eager_calls and all(call == eager for call in recorder.eager_calls), mode
    assert (model.run_eagerly, model.jit_compile) == (False, False)  # the model's own, put back
    assert model.train_function is None and "train_step" not in vars(model)  # nothing of dualtf's left on it
    assert len(history.history["loss"]) == 2


@pytest.mark.dualtf(modes=["graph"])
def test_graph_runs_keras_own_loop_and_only_the_steps_through_the_session(dualtf_backend):
    model, recorder = _model()
    runs = []
    session_run = dualtf_backend.session.run_as_is
    dualtf_backend.session.run_as_is = lambda *a, **k: runs.append(1) or session_run(*a, **k)
    history = dualtf_backend.keras(model).fit(X, Y, epochs=3, batch_size=4, verbose=0)
    assert isinstance(history, keras.callbacks.History) and history.epoch == [0, 1, 2]
    assert history.history["loss"][2] < history.history["loss"][0]
    assert recorder.eager_calls and not any(recorder.eager_calls)  # built into the graph
    assert model.layers[0].kernel.value.graph is dualtf_backend.graph  # the state stays in the Session's graph
    assert dualtf_backend.keras(model).predict(X, batch_size=3, verbose=0).shape == (8, 1)


# XLA reorders float sums: it agrees to ~1e-7 absolute, and its weights to 1e-4 relative (docs/modes.md)
RTOL = {"graph": 1e-5, "eager": 1e-5, "function": 1e-5, "xla": 1e-4}

PROGRAMS = {
    "sequential, Keras' defaults (shuffled)": keras_guides.sequential_default_shuffle,
    "functional, 3 inputs 2 outputs, lists": keras_guides.functional_multi_io,
    "functional, 3 inputs 2 outputs, dicts": functools.partial(keras_guides.functional_multi_io, as_dicts=True),
    "subclassed, custom train_step and test_step": keras_guides.custom_train_step,
    "tf.data map cache shuffle batch prefetch": keras_guides.tf_data_pipeline,
    "validation_split, class and sample weights": keras_guides.validation_and_weights,
    "steps_per_execution=4": keras_guides.steps_per_execution,
    "keras.utils.PyDataset": keras_guides.py_dataset,
    "LearningRateScheduler": keras_guides.learning_rate_scheduler,
}

_plain_results: dict[str, dict] = {}


def _plain(name, program):
    """The program as its authors ran it: plain Keras, seeded as dualtf seeds a backend."""
    if name not in _plain_results:
        with eager_scope():  # eagerly, also when first asked for in graph mode's block
            state = GlobalState(seeds=True)
            try:
                keras.utils.set_random_seed(0)
                _plain_results[name] = program()
            finally:
                state.restore()
    return _plain_results[name]


def _assert_same(got, want, rtol, where=""):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), where
        for key in want:
            _assert_same(got[key], want[key], rtol, f"{where}/{key}")
    elif isinstance(want, (list, tuple)) and want and not np.isscalar(want[0]):
        assert len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            _assert_same(a, b, rtol, f"{where}[{i}]")
    else:
        np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=1e-6, err_msg=where)


@pytest.mark.dualtf(seed=0)
@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed:UserWarning")  # Keras' own, on a dataset
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_keras_guides_give_plain_keras_numbers(dualtf_backend, name):
    """History per epoch, evaluate, predict and the final weights of each program, as plain Keras gives."""
    want = _plain(name, PROGRAMS[name])
    got = PROGRAMS[name](dualtf_backend)
    _assert_same(got, want, RTOL[dualtf_backend.mode], name)
    assert got["history"]["loss"][-1] < got["history"]["loss"][0]  # it trained


@pytest.mark.dualtf(seed=0)
def test_callbacks_stop_checkpoint_and_schedule_as_in_plain_keras(dualtf_backend, tmp_path):
    """EarlyStopping stops at plain Keras' epoch with its best weights; ModelCheckpoint's file loads (in the
    block: into graph mode's graph) with those weights; the optimizer's schedule and TensorBoard run."""
    want = _plain("callbacks", functools.partial(keras_guides.callbacks, directory=str(tmp_path / "plain")))
    got = keras_guides.callbacks(dualtf_backend, directory=str(tmp_path / dualtf_backend.mode))
    _assert_same(got, want, RTOL[dualtf_backend.mode], "callbacks")
    stopped = got["history"]["stopped_epoch"][0]
    assert 0 < stopped < 29 and len(got["history"]["loss"]) == stopped + 1  # stopped early, at Keras' epoch
    rates = got["history"]["seen_rates"]
    assert rates == sorted(rates, reverse=True) and rates[-1] < rates[0]  # the schedule decayed the rate
    assert any((tmp_path / dualtf_backend.mode / "logs" / "train").iterdir())  # TensorBoard wrote its events


_switched: dict[str, dict] = {}


@pytest.mark.dualtf(seed=0, deterministic_random=True)
def test_dropout_under_deterministic_random_draws_the_same_masks_in_every_mode(dualtf_backend):
    """With the switch, each step's masks come from the backend's generator: every mode the same numbers,
    XLA too (without it XLA draws Keras' dropout masks its own way, docs/keras.md)."""
    got = keras_guides.dropout_classifier(dualtf_backend)
    if "function" not in _switched:
        with eager_scope(), dualtf.backend("function", seed=0, deterministic_random=True) as be:
            _switched["function"] = keras_guides.dropout_classifier(be)
    _assert_same(got, _switched["function"], RTOL[dualtf_backend.mode], "dropout")


@pytest.mark.dualtf(seed=0, deterministic_random=True)
def test_under_deterministic_random_keras_own_shuffling_is_plain_kerass(dualtf_backend):
    """The switch holds only in the steps: the loop around them (Keras' shuffling) is TensorFlow's own."""
    got = keras_guides.sequential_default_shuffle(dualtf_backend)
    want = _plain("sequential, Keras' defaults (shuffled)", keras_guides.sequential_default_shuffle)
    _assert_same(got, want, RTOL[dualtf_backend.mode])


_BAD_FIT = {
    "8 rows of x, 5 of y": ((np.ones((8, 2), np.float32), np.zeros((5, 1), np.float32)), {}),
    "y=None for a model with a loss": ((X, None), {}),
    "sample_weight of 3 rows": ((X, Y), {"sample_weight": np.ones(3)}),
    "validation_split on a dataset": (
        (tf.data.Dataset.from_tensor_slices((X, Y)).batch(2),),
        {"validation_split": 0.5},
    ),
    "an unknown keyword": ((X, Y), {"shuffel": False}),
}


def _keras_error(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - what plain Keras raises, whatever it is
        return type(exc)
    raise AssertionError("plain Keras accepted it")


@pytest.mark.parametrize("case", list(_BAD_FIT))
def test_what_keras_refuses_is_refused_the_same_way_before_any_update(dualtf_backend, case):
    """Keras' own checks run first in every mode: the same exception type as plain Keras (the message is
    Keras', which words some differently when it runs eagerly), and not one weight changed."""
    args, kwargs = _BAD_FIT[case]
    with eager_scope():  # plain Keras, eagerly, also in graph mode's block
        plain, _ = _model()
        want = _keras_error(lambda: plain.fit(*args, verbose=0, **kwargs))
    model, _ = _model()
    before = dualtf_backend.evaluate(model.weights)
    got = _keras_error(lambda: dualtf_backend.keras(model).fit(*args, verbose=0, **kwargs))
    assert got is want, case
    for a, b in zip(dualtf_backend.evaluate(model.weights), before, strict=True):
        np.testing.assert_array_equal(a, b)


_ODD_FIT = {
    "batch_size=None": ((X, Y), {"batch_size": None}),
    "batch_size=0": ((X, Y), {"batch_size": 0}),
    "0 rows": ((np.ones((0, 2), np.float32), np.zeros((0, 1), np.float32)), {}),
}


@pytest.mark.filterwarnings("ignore:Your input ran out of data:UserWarning")  # Keras' own, for 0 rows
@pytest.mark.parametrize("case", list(_ODD_FIT))
def test_what_keras_accepts_every_mode_accepts(dualtf_backend, case):
    """Odd arguments Keras takes (its default batch size, none, no rows): the same History keys and epochs."""
    args, kwargs = _ODD_FIT[case]
    with eager_scope():
        plain, _ = _model()
        want = plain.fit(*args, epochs=2, verbose=0, **kwargs).history
    model, _ = _model()
    got = dualtf_backend.keras(model).fit(*args, epochs=2, verbose=0, **kwargs).history
    assert sorted(got) == sorted(want) and [len(v) for v in got.values()] == [len(v) for v in want.values()], case


def test_a_runner_of_a_closed_backend_is_refused(dualtf_mode):
    with dualtf.backend(dualtf_mode) as be:
        model, _ = _model()
        runner = be.keras(model)
    for call in (runner.fit, runner.evaluate, runner.predict):
        with pytest.raises(dualtf.ClosedBackendError, match=rf"Backend '{dualtf_mode}' #\d+ must be open"):
            call(X, Y) if call != runner.predict else call(X)


def test_a_model_of_another_backend_is_refused_by_name(dualtf_mode):
    with dualtf.backend(dualtf_mode) as first:
        model, _ = _model()
        first.keras(model).fit(X, Y, verbose=0)
    with (
        dualtf.backend(dualtf_mode) as be,
        pytest.raises(dualtf.ForeignObjectError, match=r"Variable `.*kernel` of model `sequential.*` must be made"),
    ):
        be.keras(model).fit(X, Y, verbose=0)


def test_keras_needs_a_model(dualtf_backend):
    with pytest.raises(dualtf.DualTFError, match=r"The model of keras\(\) must be a keras.Model\. Received: int"):
        dualtf_backend.keras(3)


def test_keras_functions_are_kept_between_calls_and_made_again_after_compile(dualtf_backend):
    """Like plain Keras, a second fit does not trace (or compile, or build) again; compile() again does."""
    model, recorder = _model()
    dualtf_backend.keras(model).fit(X, Y, batch_size=8, verbose=0)
    first = len(recorder.eager_calls)
    dualtf_backend.keras(model).fit(X, Y, batch_size=8, verbose=0)
    again = len(recorder.eager_calls) - first
    assert again == (1 if dualtf_backend.mode == "eager" else 0)  # eager runs the layer; the others reuse
    model.compile(optimizer="adam", loss="mae")
    before = dualtf_backend.keras(model).predict(X, verbose=0)
    history = dualtf_backend.keras(model).fit(X, Y + 1, batch_size=8, verbose=0)
    assert len(recorder.eager_calls) - first - again >= 1  # the new loss and optimizer: made again
    np.testing.assert_allclose(history.history["loss"][0], np.abs(before - (Y + 1)).mean(), rtol=1e-5)  # mae
