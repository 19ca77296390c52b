"""``deterministic_random=True``: stateful random ops draw the same numbers in every mode.

Each test runs in every mode through the plugin and compares with the same program run
in a fresh eager backend with the switch: the reference every mode must match."""

import threading

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf._backends.tf1.registry import FEATURES, resolve

SWITCH = pytest.mark.dualtf(seed=0, deterministic_random=True)
XLA_RTOL = 1e-5  # measured: 1.2e-7 (the normal and truncated normal formulas' log/cos/ndtri under XLA)


def _close(mode):
    # graph and function: Grappler may regroup a sum of three tensors (one float rounding)
    return {"rtol": XLA_RTOL if mode == "xla" else 1e-6, "atol": 1e-6 if mode == "xla" else 0.0}


def _in_eager(program, calls):
    with dualtf.backend("eager", seed=0, deterministic_random=True) as be:
        return calls(program(be)), be.evaluate(be.variables)


def _assert_same(got, want, mode):
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want), strict=True):
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), **_close(mode))


def every_random_op(be):
    """A train step and an eval step made of every stateful random op TF1 code calls."""
    x_ = be.feed("x", tf.float32, [None, 4])

    def train(x):
        w = tf.Variable(tf.random.normal([4, 3]), name="w")  # made on the first run, read afterwards
        v = tf.compat.v1.get_variable("v", [3], initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.1))
        h = tf.nn.dropout(tf.matmul(x, w) + v, rate=0.5, seed=1)
        h1 = tf.compat.v1.nn.dropout(h, keep_prob=0.75)
        return {
            "dropout": h1,
            "normal": tf.compat.v1.random_normal([2, 2], stddev=2.0),
            "truncated": tf.random.truncated_normal([5], seed=3),
            "uniform": tf.random.uniform([3], minval=-1.0, maxval=1.0),
            "uniform64": tf.random.uniform([3], dtype=tf.float64),
            "half": tf.random.normal([3], dtype=tf.float16),
            "int": tf.random.uniform([4], 0, 100, dtype=tf.int32),
            "int64": tf.random.uniform([2], -(2**40), 2**40, dtype=tf.int64),
            "shuffle": tf.random.shuffle(tf.range(8)),
            "wide_dropout": tf.nn.dropout(tf.ones([64]), rate=0.5),
        }

    def evaluate(x):
        return tf.nn.dropout(x, rate=0.5, seed=1), tf.random.normal([2], seed=1)

    return be.function(train, [x_]), be.function(evaluate, [x_])


def _train_and_eval(steps):
    train, evaluate = steps
    x = np.ones((2, 4), np.float32)
    return [(train(x), evaluate(x)) for _ in range(3)]


@SWITCH
def test_every_random_op_draws_the_same_in_every_mode(dualtf_backend):
    be = dualtf_backend
    got = _train_and_eval(every_random_op(be))
    want, want_vars = _in_eager(every_random_op, _train_and_eval)
    _assert_same(got, want, be.mode)
    assert [v.name for v in be.variables] == ["w:0", "v:0"]
    _assert_same(be.evaluate(be.variables), want_vars, be.mode)
    # and they are random: each call, each op and the eval step draw anew
    first, second = got[0][0], got[1][0]
    assert not np.array_equal(first["normal"], second["normal"])
    assert not np.array_equal(first["shuffle"], second["shuffle"]) and sorted(first["shuffle"]) == list(range(8))
    assert not np.array_equal(got[0][1][1], got[1][1][1])
    assert 0 < np.count_nonzero(first["wide_dropout"]) < 64
    assert np.all(np.abs(first["truncated"]) < 2.0) and first["half"].dtype == np.float16
    assert np.all((first["int"] >= 0) & (first["int"] < 100)) and first["int64"].dtype == np.int64


@SWITCH
def test_the_draws_have_tensorflows_distributions(dualtf_backend):
    be = dualtf_backend
    n = 20_000
    draw = be.function(
        lambda: (
            tf.random.uniform([n]),
            tf.random.normal([n], dtype=tf.float64),
            tf.random.truncated_normal([n]),
            tf.random.uniform([n], dtype=tf.bfloat16),
        ),
        [],
    )
    uniform, normal, truncated, low = (np.asarray(x, np.float64) for x in draw())
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01
    assert abs(uniform.std() - 12**-0.5) < 0.01
    assert abs(normal.mean()) < 0.03 and abs(normal.std() - 1) < 0.02
    assert truncated.min() >= -2 and truncated.max() < 2 and abs(truncated.std() - 0.8796) < 0.02
    assert low.min() >= 0 and low.max() < 1 and abs(low.mean() - 0.5) < 0.01


def _draws(n):
    """n uniform draws, made every way a step can repeat a random op."""

    def program(be):
        def loops():
            def body(i, acc):
                return i + 1, acc + tf.random.uniform([])

            _, total = tf.while_loop(lambda i, acc: i < n, body, (tf.constant(0), tf.constant(0.0)))
            values = tf.TensorArray(tf.float32, size=n)
            for i in tf.range(n):  # autograph: a loop in graph, function and xla, Python in eager
                values = values.write(i, tf.random.normal([]))
            return total, values.stack()

        return be.function(loops, [])

    return program


@SWITCH
def test_random_ops_in_loops_draw_anew_each_iteration_in_every_mode(dualtf_backend):
    be = dualtf_backend
    step = _draws(4)(be)
    got = [step(), step()]
    want, _ = _in_eager(_draws(4), lambda step: [step(), step()])
    _assert_same(got, want, be.mode)
    assert len(set(np.round(got[0][1], 6))) == 4  # four different draws, not one repeated


def _fused_dropout(be):
    x_ = be.feed("x", tf.float32, [4])
    return be.function(lambda x: tf.nn.dropout(x, rate=0.5), [x_]), x_


@SWITCH
def test_fused_steps_and_epochs_draw_as_single_calls(dualtf_backend):
    be = dualtf_backend
    step, x_ = _fused_dropout(be)
    single = [step(np.ones(4, np.float32)) for _ in range(3)]
    fused = be.function(lambda x: tf.nn.dropout(x, rate=0.5), [x_], steps_per_call=3)
    epoch = be.epoch(lambda x: tf.nn.dropout(x, rate=0.5), tf.data.Dataset.from_tensors(tf.ones(4)).repeat(3))
    got = [single, fused(np.ones((3, 4), np.float32)), epoch()]

    def reference(be):
        step, x_ = _fused_dropout(be)
        single = [step(np.ones(4, np.float32)) for _ in range(3)]
        fused = be.function(lambda x: tf.nn.dropout(x, rate=0.5), [x_], steps_per_call=3)
        epoch = be.epoch(lambda x: tf.nn.dropout(x, rate=0.5), tf.data.Dataset.from_tensors(tf.ones(4)).repeat(3))
        return [single, fused(np.ones((3, 4), np.float32)), epoch()]

    want, _ = _in_eager(reference, lambda out: out)
    _assert_same(got, want, be.mode)
    assert not np.array_equal(got[1], got[2])  # one generator: the epoch goes on where the fused call stopped


def _initial_values(be):
    a = be.variable(lambda: tf.random.normal([3]), name="a")
    b = be.variable(lambda: tf.random.uniform([2]), name="b")
    return be.function(lambda: tf.random.uniform([2]) + a[:2] + b, [])


@SWITCH
def test_random_initial_values_made_outside_steps(dualtf_backend):
    be = dualtf_backend
    step = _initial_values(be)
    got = [step(), step()]
    want, want_vars = _in_eager(_initial_values, lambda step: [step(), step()])
    _assert_same(got, want, be.mode)
    _assert_same(be.evaluate(be.variables), want_vars, be.mode)


@pytest.mark.dualtf(seed=0, deterministic_random=True, modes=["graph"])
def test_graph_mode_draws_a_random_tensor_made_outside_a_step_each_time_it_is_evaluated(dualtf_backend):
    """Pinned TF1 semantics: outside a step a graph tensor is computed per Session run; eager made it once."""
    be = dualtf_backend
    r = tf.random.uniform([2])
    assert not np.array_equal(be.evaluate(r), be.evaluate(r))


@pytest.mark.parametrize(
    ("draw", "called"),
    [
        (lambda: tf.random.gamma([2], 1.0), "tf.random.gamma"),
        (lambda: tf.random.poisson([2], 1.0), "tf.random.poisson"),
        (lambda: tf.random.categorical([[0.5, 0.5]], 2), "tf.random.categorical"),
        (lambda: tf.raw_ops.RandomUniform(shape=[2], dtype=tf.float32), "tf.raw_ops.RandomUniform"),
    ],
)
@SWITCH
def test_random_ops_it_cannot_replace_are_refused_by_name_at_build(dualtf_backend, draw, called):
    pattern = rf"deterministic_random=True .*mode '{dualtf_backend.mode}'.*; {called} \(op"
    _refused_before_it_ran(dualtf_backend, draw, pattern)


def _refused_before_it_ran(be, draw, pattern):
    """A step that counts, then draws with ``draw``: refused at build with ``pattern``, the counter untouched."""
    counter = be.variable(0, name="counter")

    def step():
        counter.assign_add(1)
        return draw()

    with pytest.raises(dualtf.DualTFError, match=pattern):
        be.function(step, [])
    assert be.evaluate(counter) == 0  # refused before anything ran


@pytest.mark.parametrize(
    ("draw", "op_type"),
    [
        # what tf.nn.nce_loss and sampled_softmax_loss draw with; listed nowhere in dualtf
        (lambda: tf.random.log_uniform_candidate_sampler([[1, 2]], 2, 5, True, 100)[0], "LogUniformCandidateSampler"),
        (lambda: tf.random.fixed_unigram_candidate_sampler([[1]], 1, 2, True, 4, unigrams=[1.0] * 4)[0], "Fixed"),
    ],
    ids=["log_uniform_candidate_sampler", "fixed_unigram_candidate_sampler"],
)
@SWITCH
def test_an_unlisted_random_op_is_refused_by_the_registry_rule(dualtf_backend, draw, op_type):
    """Fail closed: an op that draws randomness is found by TensorFlow's op registry (stateful, with seed
    attributes or an RNG algorithm), not by a list of names — refused at build with its type and the user's line."""
    pattern = rf"mode '{dualtf_backend.mode}'.* \(op type ({op_type})\w*\) cannot.*test_random"
    _refused_before_it_ran(dualtf_backend, draw, pattern)


def test_the_registry_rule_knows_random_ops_by_their_definition():
    from dualtf._backends.tf1 import random as dualtf_random

    drawn = [
        t
        for t in ("LogUniformCandidateSampler", "RandomGamma", "StatefulUniform", "Multinomial")
        if dualtf_random._draws_randomness(t)
    ]
    assert drawn == ["LogUniformCandidateSampler", "RandomGamma", "StatefulUniform", "Multinomial"]
    quiet = ("AddV2", "AssignVariableOp", "StatelessRandomUniformV2", "RngReadAndSkip", "CudnnRNNV3", "NoSuchOp")
    assert not any(dualtf_random._draws_randomness(t) for t in quiet)


@pytest.mark.dualtf(seed=0, deterministic_random=True)
def test_the_generator_is_dualtfs_own(dualtf_backend):
    be = dualtf_backend
    w = be.variable(1.0, name="w")
    assert be.variables == [w]
    if be.mode == "graph":
        with be.scope():
            assert tf.compat.v1.global_variables() == [w]


def test_the_switch_needs_a_seed(dualtf_mode):
    with pytest.raises(dualtf.DualTFError, match=r"seed of a backend with deterministic_random=True .*seed=None"):
        dualtf.backend(dualtf_mode, deterministic_random=True)
    with pytest.raises(dualtf.DualTFError, match=r"deterministic_random must be True or False.*'yes'"):
        dualtf.backend(dualtf_mode, seed=0, deterministic_random="yes")
    assert _replaced() == _ORIGINALS


def _replaced():
    """What each random-op function the switch replaces is now, where TensorFlow's code looks it up."""
    return {row.target: resolve(row.target)[2] for row in FEATURES["deterministic_random"]}


_ORIGINALS = _replaced()  # at collection, before any backend


def _op_types(fn):
    return {op.type for op in tf.function(fn).get_concrete_function().graph.get_operations()}


def test_tensorflows_own_ops_elsewhere(dualtf_mode):
    """Only the thread building or running a step of the switched backend draws from it; nothing is left after."""
    originals = _replaced()
    seen = {}

    def step():
        seen["step"] = _op_types(lambda: tf.random.uniform([2]))
        return tf.constant(0)

    def other_thread():
        seen["other thread"] = _op_types(lambda: tf.random.uniform([2]))

    with dualtf.backend(dualtf_mode, seed=0, deterministic_random=True) as be:
        be.function(step, [])
        seen["block"] = _op_types(lambda: tf.random.uniform([2]))
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        with dualtf.backend("eager") as inner:  # a backend without the switch, inside the block
            seen["inner backend"] = _op_types(lambda: tf.random.uniform([2]))
            assert inner.function(lambda: tf.random.uniform([2]), [])().shape == (2,)
    assert "RandomUniform" not in seen["step"] and "StatelessRandomUniformFullIntV2" in seen["step"]
    assert "RandomUniform" in seen["block"]  # the block outside steps: TensorFlow's own
    assert "RandomUniform" in seen["other thread"] and "RandomUniform" in seen["inner backend"]
    assert _replaced() == originals


def _keras_dropout(be):
    """Keras 3's random ops are stateless ones seeded by a SeedGenerator variable: Dropout in a custom
    step, a seeded initializer, and tf.random.stateless_* with a seed fed at run time."""
    import keras

    dropout = keras.layers.Dropout(0.5, seed=3)
    dense = keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotNormal(seed=1))
    seed = be.feed("seed", tf.int32, [2])

    def step(seed):
        return (
            dropout(dense(tf.ones([2, 3])), training=True),
            tf.random.stateless_normal([3], seed),
            tf.random.stateless_truncated_normal([3], seed),
            tf.random.stateless_uniform([3], seed, dtype=tf.float64),
        )

    return be.function(step, [seed])


@SWITCH
def test_stateless_ops_and_keras_dropout_draw_the_same_in_every_mode(dualtf_backend):
    be = dualtf_backend
    step = _keras_dropout(be)
    got = [step([1, 2]), step([5, 6])]
    want, _ = _in_eager(_keras_dropout, lambda step: [step([1, 2]), step([5, 6])])
    _assert_same(got, want, be.mode)
    assert not np.allclose(got[0][0], got[1][0])  # the SeedGenerator moves on: a new mask per call


def _keras_fit(be):
    import keras

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.5), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
    history = be.keras(model).fit(x, x.sum(1, keepdims=True), batch_size=8, epochs=2, shuffle=False, verbose=0)
    return history.history["loss"]


@SWITCH
def test_keras_fit_with_dropout_agrees_in_every_mode(dualtf_backend):
    got = _keras_fit(dualtf_backend)
    with dualtf.backend("eager", seed=0, deterministic_random=True) as reference:
        want = _keras_fit(reference)
    _assert_same(got, want, dualtf_backend.mode)


# ------------------------------------------------------------------ without the switch (docs/modes.md, pinned)
def _op_seeded(be):
    """A train step and an eval step, each with a stateful op of op-level seed 5."""
    return be.function(lambda: tf.random.uniform([3], seed=5), []), be.function(
        lambda: tf.random.uniform([3], seed=5), []
    )


def _without_switch(mode, program=_op_seeded):
    with dualtf.backend(mode, seed=0) as be:
        train, evaluate = program(be)
        return train(), evaluate(), train()


@pytest.mark.dualtf(modes=["graph", "eager", "function", "xla"])
def test_without_the_switch_op_seeds_agree_on_the_first_draw_only(dualtf_mode):
    """docs/modes.md: the first draw of an op-seeded op agrees in graph, eager and function; graph and
    function give each op its own stream, eager one per kind, dtype and seed; XLA ignores op seeds."""
    train, evaluate, again = _without_switch(dualtf_mode)
    ref_train, ref_evaluate, ref_again = _without_switch("graph")
    if dualtf_mode == "xla":
        assert not np.allclose(train, ref_train)  # "will ignore seeds"
        return
    np.testing.assert_array_equal(train, ref_train)
    if dualtf_mode in ("graph", "function"):
        np.testing.assert_array_equal(evaluate, train)  # the eval step's op starts its own stream
        np.testing.assert_array_equal(again, ref_again)
    else:  # eager: the eval step's op continues the train op's stream
        assert not np.allclose(evaluate, train) and not np.allclose(again, ref_again)


def test_without_the_switch_unseeded_ops_differ_between_graph_and_eager():
    def unseeded(be):
        return be.function(lambda: tf.random.uniform([3]), []), be.function(lambda: tf.random.uniform([3]), [])

    assert not np.allclose(_without_switch("graph", unseeded)[0], _without_switch("eager", unseeded)[0])


@pytest.mark.dualtf(modes=["xla"])
def test_without_the_switch_xla_turns_stateless_bits_into_other_floats(dualtf_backend):
    """A seed XLA sees as a constant is folded by TensorFlow's own kernel; a seed computed in
    the step (Keras' SeedGenerator: Dropout, keras.random) gets XLA's float conversion."""
    seed = dualtf_backend.feed("seed", tf.int32, [2])

    def draw(seed):
        return tf.random.stateless_uniform([8], seed, alg="philox"), tf.random.stateless_uniform(
            [8], [1, 2], alg="philox"
        )

    fed, constant = dualtf_backend.function(draw, [seed])([1, 2])
    with dualtf.backend("function") as reference:
        want_fed, want_constant = reference.function(draw, [reference.feed("seed", tf.int32, [2])])([1, 2])
    np.testing.assert_array_equal(constant, want_constant)
    assert not np.allclose(fed, want_fed)


@pytest.mark.dualtf(seed=0, modes=["xla"])
def test_without_the_switch_keras_dropout_masks_differ_under_xla(dualtf_backend):
    """docs/modes.md: Keras' Dropout draws through a SeedGenerator, a seed computed in the step."""
    got = _keras_fit(dualtf_backend)
    with dualtf.backend("eager", seed=0) as reference:
        want = _keras_fit(reference)
    assert not np.allclose(got, want, rtol=1e-3)


@SWITCH
def test_a_dataset_function_drawing_randomness_is_refused_in_every_mode(dualtf_backend):
    """Under the switch an epoch's dataset is scanned too (its map's ops): the same refusal in every mode; a
    seeded shuffle is not a draw of its own and passes."""
    be = dualtf_backend
    noisy = tf.data.Dataset.range(4).map(lambda i: tf.cast(i, tf.float32) + tf.random.uniform([]))
    with pytest.raises(dualtf.DualTFError, match=rf"mode '{be.mode}'.*\(op type RandomUniform\).* made at the epoch's"):
        be.epoch(lambda x: x * 1.0, noisy)
    shuffled = tf.data.Dataset.range(4).shuffle(4, seed=1)
    assert sorted(be.epoch(lambda x: x + 0, shuffled)().tolist()) == [0, 1, 2, 3]
