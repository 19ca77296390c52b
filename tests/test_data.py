"""tf.data as a source of feeds, in every mode: be.iterate(ds), feeds from element_spec."""

import threading

import numpy as np
import pytest
import tensorflow as tf

import dualtf

X = np.arange(20, dtype=np.float32).reshape(10, 2)
Y = np.arange(10, dtype=np.int32)


def _batches(be, shuffle_seed=None):
    ds = tf.data.Dataset.from_tensor_slices((X, Y))
    if shuffle_seed is not None:
        ds = ds.shuffle(10, seed=shuffle_seed)
    return [(x.tolist(), y.tolist()) for x, y in be.iterate(ds.batch(4))]


def test_iterate_gives_numpy_batches(dualtf_backend):
    batches = list(dualtf_backend.iterate(tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert all(isinstance(x, np.ndarray) and x.dtype == np.float32 for x, _ in batches)
    assert np.concatenate([y for _, y in batches]).tolist() == Y.tolist()


@pytest.mark.parametrize("backend_seed", [None, 0])
def test_seeded_shuffle_gives_the_same_batches_in_every_mode(backend_seed):
    results = {}
    for mode in dualtf.available_modes():
        with dualtf.backend(mode, seed=backend_seed) as be:
            results[mode] = (_batches(be, shuffle_seed=7), _batches(be, shuffle_seed=7))
    first = results["eager"]
    assert first[0] != [(X[i : i + 4].tolist(), Y[i : i + 4].tolist()) for i in (0, 4, 8)]  # really shuffled
    for mode, batches in results.items():
        assert batches == first, mode


def test_feeds_from_element_spec_and_the_natural_loop(dualtf_backend):
    be = dualtf_backend
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    x, y = be.feeds_from(ds.element_spec, ["x", "y"])
    assert (x.shape, y.shape, x.dtype, y.dtype) == ((None, 2), (None,), tf.float32, tf.int32)
    total = be.variable(0.0, name="total")
    step = be.function(lambda x, y: total.assign_add(tf.reduce_sum(x) + tf.cast(tf.reduce_sum(y), tf.float32)), [x, y])
    for batch in be.iterate(ds):
        step(*batch)
    assert be.evaluate(total) == X.sum() + Y.sum()


def test_feeds_from_a_dict_spec_takes_its_keys(dualtf_backend):
    be = dualtf_backend
    ds = tf.data.Dataset.from_tensor_slices({"b": Y, "a": X}).batch(5)
    feeds = be.feeds_from(ds)
    assert [f.name for f in feeds] == ["a", "b"]
    step = be.function(lambda a, b: tf.shape(a)[0] + tf.shape(b)[0], feeds)
    assert [int(step(**batch)) for batch in be.iterate(ds)] == [10, 10]


def test_feeds_from_bad_input_is_named(dualtf_backend):
    be = dualtf_backend
    spec = (tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.int32))
    with pytest.raises(
        dualtf.FeedError, match=r"`names` of feeds_from\(\) must be given for a spec that is not a dict"
    ):
        be.feeds_from(spec)
    with pytest.raises(dualtf.FeedError, match=r"must be 2 names, one per component\. Received: \['x'\]"):
        be.feeds_from(spec, ["x"])
    with pytest.raises(dualtf.FeedError, match=r"spec of feeds_from\(\) must be a dataset's element_spec"):
        be.feeds_from([1, 2], ["a", "b"])


def test_iterate_refuses_what_is_not_its_dataset(dualtf_backend):
    be = dualtf_backend
    with pytest.raises(dualtf.DualTFError, match=r"dataset of iterate\(\) must be a tf.data.Dataset\. Received: list"):
        be.iterate([1, 2])
    other = "eager" if be.mode == "graph" else "graph"
    with dualtf.backend(other) as foreign:
        ds = tf.data.Dataset.range(3)
        assert [int(v) for v in foreign.iterate(ds)] == [0, 1, 2]
    with pytest.raises(dualtf.ForeignObjectError, match=r"must be made under this backend"):
        be.iterate(ds)


@pytest.mark.dualtf(modes=["xla"])
def test_an_iterator_read_inside_an_xla_step_is_refused_by_name(dualtf_backend):
    iterator = iter(tf.data.Dataset.range(3))
    with pytest.raises(
        dualtf.DualTFError, match=r"mode 'xla' must not contain a tf.data iterator read .* be.iterate\(ds\)"
    ):
        dualtf_backend.function(lambda: iterator.get_next(), [])


@pytest.mark.dualtf(modes=["eager", "function"])
def test_an_iterator_read_inside_a_step_works_where_tensorflow_runs_it(dualtf_backend):
    iterator = iter(tf.data.Dataset.range(3))
    step = dualtf_backend.function(lambda: iterator.get_next(), [])
    assert [int(step()) for _ in range(3)] == [0, 1, 2]


def _two_epochs(mode, make):
    with dualtf.backend(mode, seed=0) as be:
        ds = make()
        return [[b.tolist() for b in be.iterate(ds)] for _ in range(2)]


def test_unseeded_shuffle_differs_in_graph_mode_as_documented():
    def make():
        return tf.data.Dataset.range(10).shuffle(10).batch(10)

    assert _two_epochs("graph", make) != _two_epochs("eager", make)  # docs/data.md: give shuffle a seed


def test_unknown_length_dataset_repeats_its_first_order_in_graph_mode_as_documented():
    def make():
        return tf.data.Dataset.range(10).filter(lambda v: v >= 0).shuffle(10, seed=3).batch(10)

    graph, eager = _two_epochs("graph", make), _two_epochs("eager", make)
    assert graph[0] == eager[0]  # the first epoch agrees
    assert graph[1] == graph[0] and eager[1] != eager[0]  # docs/data.md: keep the length known


def test_each_loop_over_a_dataset_gets_its_own_iterator(dualtf_backend):
    """Nested loops and zip over one dataset, as eager's fresh iter() per loop gives them, in every mode."""
    be = dualtf_backend
    ds = tf.data.Dataset.range(3)
    pairs = [(int(a), int(b)) for a in be.iterate(ds) for b in be.iterate(ds)]
    assert pairs == [(a, b) for a in range(3) for b in range(3)]
    assert [(int(a), int(b)) for a, b in zip(be.iterate(ds), be.iterate(ds), strict=True)] == [(0, 0), (1, 1), (2, 2)]
    left_early = be.iterate(ds)
    assert int(next(left_early)) == 0
    del left_early  # a loop left early: the next loop starts a fresh pass
    assert [int(i) for i in be.iterate(ds)] == [0, 1, 2]


def test_a_closed_backends_iterator_is_refused_in_every_mode(dualtf_mode):
    with dualtf.backend(dualtf_mode) as be:
        elements = be.iterate(tf.data.Dataset.range(3))
        assert int(next(elements)) == 0
    with pytest.raises(dualtf.ClosedBackendError, match=rf"Backend '{dualtf_mode}' #\d+ must be open"):
        next(elements)


def test_an_epoch_step_is_safe_from_several_threads(dualtf_backend):
    be = dualtf_backend
    total = be.variable(0, dtype=tf.int64, name="total")
    epoch = be.epoch(lambda i: total.assign_add(i) * 0 + i, tf.data.Dataset.range(10), step_outputs="sum")
    results = []

    def run():
        for _ in range(10):
            results.append(int(epoch()))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [45] * 30  # every pass whole: 0 + 1 + ... + 9
    assert be.evaluate(total) == 45 * 30
