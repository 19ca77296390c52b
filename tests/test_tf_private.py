"""Every private TensorFlow/Keras piece dualtf uses loads by name: an upgrade that moves one fails here."""

import keras
import pytest
import tensorflow as tf

import dualtf
from dualtf import _modes, _tf_private


@pytest.mark.parametrize("name", sorted(_tf_private.SYMBOLS))
def test_private_symbol_loads(name):
    assert _tf_private.load(name) is not None


def _mirrored(**kwargs):
    return tf.distribute.MirroredStrategy(["/cpu:0"], **kwargs)


def _check_make_callable():
    assert callable(tf.compat.v1.Session._make_callable_from_options)


def _check_keras_variable():
    assert isinstance(_tf_private.keras_inner_variable(keras.Variable(1.0)), tf.Variable)
    assert _tf_private.keras_inner_variable(tf.Variable(1.0)) is None


def _check_distributed_primary():
    with _mirrored().scope():
        var = tf.Variable(1.0)
    assert isinstance(_tf_private.distributed_primary(var), tf.Variable)
    assert _tf_private.distributed_primary(tf.Variable(1.0)) is None


def _check_cross_device_ops():
    ops = _tf_private.cross_device_ops(_mirrored(cross_device_ops=tf.distribute.ReductionToOneDevice()))
    assert isinstance(ops, tf.distribute.ReductionToOneDevice)


def _check_keras_global_state():
    module = _tf_private.keras_global_state()
    assert callable(module.get_global_attribute) and callable(module.set_global_attribute)


def _check_dataset_variant():
    assert isinstance(_tf_private.dataset_variant(tf.data.Dataset.range(2)), tf.Tensor)


def _check_lower_call():
    double = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([], tf.float32)])
    call = _tf_private.lower_call(double.get_concrete_function())
    assert call is not None and float(call([tf.constant(3.0)])) == 6.0


def _check_tf_keras_counters():
    import tf_keras

    seen = []

    def creator(next_creator, **kwargs):
        seen.append(_tf_private.creating_tf_keras_batch_counter())
        return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        model = tf_keras.Sequential([tf_keras.layers.Dense(1)])
    assert seen == [True, True, True] and model._train_counter.dtype == tf.int64
    assert not _tf_private.creating_tf_keras_batch_counter()


def _check_variable_store_names():
    store = _tf_private.load("EagerVariableStore")()
    with store.as_default():
        tf.compat.v1.get_variable("probe", [1])
    assert _tf_private.variable_store_names(store) == ["probe"]
    _tf_private.forget_variable_store_names(store, set())
    assert _tf_private.variable_store_names(store) == []


def _check_autograph_frames():
    def fn(x):
        return x.numpy()

    def calls_fn(x):
        return fn(x)

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32)
        try:
            tf.autograph.to_graph(calls_fn)(x)
        except AttributeError as exc:
            frames = _tf_private.autograph_frames(exc)
    assert any(code.strip() == "return x.numpy()" for _, _, _, code in frames), frames


def _check_dataset_graph_def():
    graph = tf.Graph()
    with graph.as_default():
        serialized = _tf_private.dataset_graph_def(tf.data.Dataset.range(3).map(lambda i: i * 2))
        with tf.compat.v1.Session() as session:
            graph_def = session.run(serialized)
    again = tf.data.experimental.from_variant(
        tf.raw_ops.DatasetFromGraph(graph_def=graph_def), tf.TensorSpec([], tf.int64)
    )
    assert list(again.as_numpy_iterator()) == [0, 2, 4]


ATTRIBUTE_CHECKS = {
    "Dataset._as_serialized_graph": _check_dataset_graph_def,
    "Exception.ag_error_metadata.translated_stack": _check_autograph_frames,
    "_VariableStore._vars": _check_variable_store_names,
    "tf_keras Model._init_batch_counters": _check_tf_keras_counters,
    "ConcreteFunction._inference_function.call_preflattened": _check_lower_call,
    "Dataset._variant_tensor": _check_dataset_variant,
    "Session._make_callable_from_options": _check_make_callable,
    "keras.Variable._value": _check_keras_variable,
    "DistributedVariable._primary": _check_distributed_primary,
    "StrategyExtended._cross_device_ops": _check_cross_device_ops,
    "keras.src.backend.common.global_state": _check_keras_global_state,
}


def test_every_private_attribute_has_a_check():
    assert set(ATTRIBUTE_CHECKS) == set(_tf_private.ATTRIBUTES)


@pytest.mark.parametrize("name", sorted(ATTRIBUTE_CHECKS))
def test_private_attribute_is_there(name):
    ATTRIBUTE_CHECKS[name]()


def test_missing_piece_makes_its_mode_unavailable_with_the_reason(monkeypatch):
    moved = _tf_private.Symbol("tensorflow.python.framework.no_such_module", "AutomaticControlDependencies", "graph")
    monkeypatch.setitem(_tf_private.SYMBOLS, "AutomaticControlDependencies", moved)
    _tf_private.load.cache_clear()
    _modes.mode_unavailable_reason.cache_clear()
    try:
        reason = _modes.mode_unavailable_reason("graph")
        assert "tensorflow.python.framework.no_such_module.AutomaticControlDependencies" in reason
        assert f"TensorFlow {tf.__version__} lacks" in reason and "Received: ModuleNotFoundError" in reason
        assert "graph" not in dualtf.available_modes()
        with pytest.raises(
            dualtf.ModeError, match=r"Mode 'graph' must be available on this machine\. .*no_such_module"
        ):
            dualtf.backend("graph")
        with pytest.raises(dualtf.PrivateAPIError, match=r"private TensorFlow piece"):
            _tf_private.load("AutomaticControlDependencies")
        assert _modes.mode_unavailable_reason("eager") is None  # the other modes do not need it
    finally:
        _tf_private.load.cache_clear()
        _modes.mode_unavailable_reason.cache_clear()
