"""``deterministic_random=True``: TF1's stateful random ops drawing the same numbers in every mode.

Without it each mode draws its own: a TF1 graph keeps one stream per op (seeded by the
graph's seed and the op's), eager one per seed pair, and XLA ignores op seeds. With it,
each stateful random op (``tf.random.uniform``/``normal``/``truncated_normal``/``shuffle``,
``tf.nn.dropout``, the TF1 initializers built on them, ``tf.compat.v1.random_*``) asks the
backend's one Philox ``tf.random.Generator`` for a key — one stateful op, ordered like every
other stateful op of the step — and draws its values from that key with a stateless op whose
integers are the same bits on every device and under XLA. Floats are made from those bits
here, by one formula for every mode, because TensorFlow's and XLA's own float conversions
differ. So the n-th draw of a backend is the same in every mode, in a train step and an eval
step alike, in a loop or out of one.

The replacements (the registry's rows of feature ``deterministic_random``) are held on
TensorFlow's generated random ops only while a step of a backend with the switch builds or
runs, and only in the thread doing it: everywhere else — the user's own graphs and Sessions
in the block, other threads, raw ``tf.random`` draws outside steps — TensorFlow's own ops run
unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from ..._errors import DualTFError, error_message
from ..._tf_private import load
from .context import current
from .refuse import Refusal, RefusalTable

__all__ = ["RANDOM_OPS", "DeterministicRandom", "drawn_by_the_generator"]

#: Stateful random ops by what the user called, for the message; every other op that draws randomness is
#: refused too, found by :func:`_draws_randomness` from TensorFlow's op registry. The replaced ones appear
#: here too: a step that still holds one called the raw op, past the replacement.
_REFUSED: dict[str, str] = {
    "RandomGamma": "tf.random.gamma",
    "RandomPoisson": "tf.random.poisson",
    "RandomPoissonV2": "tf.random.poisson",
    "Multinomial": "tf.random.categorical",
    "ParameterizedTruncatedNormal": "parameterized_truncated_normal",
    "RandomUniform": "tf.raw_ops.RandomUniform",
    "RandomUniformInt": "tf.raw_ops.RandomUniformInt",
    "RandomStandardNormal": "tf.raw_ops.RandomStandardNormal",
    "TruncatedNormal": "tf.raw_ops.TruncatedNormal",
    "RandomShuffle": "tf.raw_ops.RandomShuffle",
}

# Φ(-2) and Φ(2): truncated_normal keeps values within two standard deviations.
_LOW = 0.5 * math.erfc(2.0 / math.sqrt(2.0))
_HIGH = 1.0 - _LOW
_PHILOX = 1  # tf.random.Algorithm.PHILOX


#: Ops the registry rule would refuse that draw nothing a mode could see differently, each with why.
KNOWN_SAFE: dict[str, str] = {
    "RngReadAndSkip": "dualtf's own generator reads its key and counter with it: integers, the same in every mode",
    **dict.fromkeys(
        ("CudnnRNN", "CudnnRNNV2", "CudnnRNNV3", "CudnnRNNBackprop", "CudnnRNNBackpropV2", "CudnnRNNBackpropV3"),
        "its seed drives only cuDNN's own dropout, which Keras' LSTM and GRU leave at its default, 0",
    ),
}


@functools.cache
def _draws_randomness(op_type: str) -> bool:
    """Whether TensorFlow's op registry says ``op_type`` draws randomness of its own: a stateful op with
    ``seed``/``seed2`` attributes (TF1's random ops, the candidate samplers, random image crops) or with an
    RNG ``algorithm`` input (a ``tf.random.Generator``'s draws)."""
    if op_type in KNOWN_SAFE:
        return False
    op_def = load("op_def_registry.get")(op_type)
    if op_def is None or not op_def.is_stateful:
        return False
    seeded = {"seed", "seed2"} <= {attr.name for attr in op_def.attr}
    return seeded or any(arg.name == "algorithm" for arg in op_def.input_arg)


def _unlisted_random_op(op_type: str) -> Refusal | None:
    if not _draws_randomness(op_type):
        return None
    return Refusal(
        "an op that draws randomness of its own",
        "so that every mode draws the same numbers, every random draw must come from dualtf's generator",
        "draw with tf.random.uniform / normal / shuffle (which the switch replaces) or tf.random.stateless_* with a "
        "seed of your own, or open the backend without deterministic_random",
    )


#: Random ops a step must not hold under the switch, scanned after the build (:func:`~.refuse.refuse`): those
#: named, and by rule every other op TensorFlow's registry says draws randomness (fail closed: an op nobody
#: listed is refused, not passed).
RANDOM_OPS = RefusalTable(
    "deterministic_random",
    {
        op_type: Refusal(
            called,
            "so that every mode draws the same numbers, every stateful random op must draw from dualtf's generator",
            "draw from tf.random.stateless_* with a seed of your own, or open the backend without deterministic_random",
        )
        for op_type, called in _REFUSED.items()
    },
    rule=_unlisted_random_op,
    rule_doc="every other op TensorFlow's op registry says draws randomness of its own (stateful, with `seed` and "
    "`seed2` attributes or an RNG `algorithm` input), except " + ", ".join(f"`{t}`" for t in KNOWN_SAFE) + " (the "
    "generator's own read; cuDNN RNNs, whose seed only drives a dropout Keras leaves at 0)",
    sentence="Under deterministic_random=True every stateful random op of step `{step}` (mode {mode!r}) must draw "
    "from dualtf's generator, so that every mode draws the same numbers; {what} (op type {op_type}) cannot. Instead, "
    "{instead}.",
)


def _bits(shape: Any, key: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """Uniform unsigned integers: the same bits on every device and under XLA (Philox named: XLA's
    automatic choice of algorithm is not the CPU kernel's)."""
    bits: tf.Tensor = tf.random.stateless_uniform(
        shape,
        key,
        minval=None,  # type: ignore[arg-type]  # None and None: the full range of an unsigned dtype
        maxval=None,
        dtype=dtype,
        alg="philox",
    )
    return bits


def _unit(bits: Callable[[tf.DType], tf.Tensor], dtype: tf.DType) -> tf.Tensor:
    """Uniform floats in [0, 1) of ``dtype`` from ``bits(unsigned dtype)``: the top mantissa-many bits, scaled
    exactly."""
    if dtype == tf.float64:
        top = tf.bitwise.right_shift(bits(tf.uint64), tf.constant(11, tf.uint64))
        unit64: tf.Tensor = tf.cast(top, tf.float64) * 2.0**-53
        return unit64
    width = {tf.float32: 24, tf.float16: 11, tf.bfloat16: 8}.get(dtype)
    if width is None:
        raise DualTFError(
            error_message(
                "Under deterministic_random=True a random float must be of dtype float16, bfloat16, float32 or float64",
                f"dtype {dtype.name}",
            )
        )
    top = tf.bitwise.right_shift(bits(tf.uint32), tf.constant(32 - width, tf.uint32))
    unit: tf.Tensor = tf.cast(top, tf.float32) * 2.0**-width
    return unit if dtype == tf.float32 else tf.cast(unit, dtype)


def _normal(bits: Callable[[Any, tf.DType], tf.Tensor], shape: Any, dtype: tf.DType) -> tf.Tensor:
    """Standard normal floats by Box-Muller from two uniforms per value."""
    both = _unit(lambda unsigned: bits(tf.concat([[2], tf.cast(shape, tf.int32)], 0), unsigned), _compute_dtype(dtype))
    radius = tf.sqrt(-2.0 * tf.math.log(1.0 - both[0]))  # 1 - u is in (0, 1]
    return tf.cast(radius * tf.cos((2.0 * math.pi) * both[1]), dtype)


def _truncated(bits: Callable[[Any, tf.DType], tf.Tensor], shape: Any, dtype: tf.DType) -> tf.Tensor:
    """Normal floats within two standard deviations: the inverse CDF on [Φ(-2), Φ(2))."""
    unit = _unit(lambda unsigned: bits(shape, unsigned), _compute_dtype(dtype))
    inverse: tf.Tensor = tf.math.ndtri(_LOW + unit * (_HIGH - _LOW))
    return tf.cast(inverse, dtype)


def _stateless_bits(key: Any, counter: Any) -> Callable[[Any, tf.DType], tf.Tensor]:
    """Philox bits from a stateless op's key and counter, the same on every device and under XLA."""

    def bits(shape: Any, unsigned: tf.DType) -> tf.Tensor:
        drawn: tf.Tensor = tf.raw_ops.StatelessRandomUniformFullIntV2(
            shape=shape, key=key, counter=counter, alg=_PHILOX, dtype=unsigned
        )
        return drawn

    return bits


def _first(dims: tf.TensorShape) -> int:
    """A fixed draw's first dimension, -1 for a scalar."""
    first = dims[0] if dims.rank else -1
    assert first is not None  # a fixed draw's
    return int(first)


def _key_from_state(handle: Any) -> tf.Tensor:
    """A generator's ``make_seeds(1)[:, 0]`` read from its state variable's ``handle``: TensorFlow's own
    two steps (read and skip the state, then Philox's first 64 bits), made on the one copy given."""
    counter_key = tf.raw_ops.RngReadAndSkip(
        resource=handle, alg=tf.constant(_PHILOX, tf.int32), delta=tf.constant(1, tf.uint64)
    )
    key: tf.Tensor = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=[1],
        key=tf.bitcast(counter_key[2:3], tf.uint64),
        counter=tf.bitcast(counter_key[:2], tf.uint64),
        alg=_PHILOX,
        dtype=tf.int64,
    )
    return tf.stack([key[0], tf.constant(0, tf.int64)])


def _compute_dtype(dtype: tf.DType) -> tf.DType:
    return tf.float64 if dtype == tf.float64 else tf.float32


class ReplicaBatch:
    """Where one replica's run of a step's ``fn`` under a strategy is in the global batch: the replicas,
    its rows (``offset`` and ``size`` of ``total``, tensors), and the step's :class:`ReplicaSchedule`."""

    __slots__ = ("offset", "replicas", "schedule", "size", "total")

    def __init__(self, replicas: int, offset: Any, size: Any, total: Any, schedule: ReplicaSchedule):
        self.replicas, self.schedule = replicas, schedule
        self.offset, self.size, self.total = offset, size, total

    @classmethod
    def even(cls, replicas: int, index: Any, size: Any, schedule: ReplicaSchedule) -> ReplicaBatch:
        """Replica ``index`` of a batch split evenly (dualtf's own split): rows ``index * size`` on."""
        size = tf.cast(size, tf.int32)
        return cls(replicas, tf.cast(index, tf.int32) * size, size, size * replicas, schedule)

    @classmethod
    def gathered(cls, replicas: int, index: Any, size: Any, schedule: ReplicaSchedule) -> ReplicaBatch:
        """A replica of a batch split by someone else (Keras' distributed dataset, whose last batch may
        split unevenly): every replica's size gathered, its rows after those of the replicas before it."""
        context = tf.distribute.get_replica_context()
        sizes = context.all_gather(tf.reshape(tf.cast(size, tf.int32), [1]), axis=0)
        offset = tf.reduce_sum(sizes[: tf.cast(index, tf.int32)])
        return cls(replicas, offset, tf.cast(size, tf.int32), tf.reduce_sum(sizes), schedule)


class ReplicaSchedule:
    """One distributed step's record of its draws, made by a traced run: per draw, None for a draw per
    example or the first dimension of a fixed draw. Eager runs check their draws against it."""

    def __init__(self, step: str, mode: str):
        self.step, self.mode = step, mode
        self.draws: list[int | None] | None = None
        #: Runs of the step ended (the first run's keys are constants: :meth:`DeterministicRandom.run`).
        self.runs = 0


class _Run:
    """Where one run of a step's fn is: first or not, its next constant key, its last key op per graph,
    and, under a strategy, its replica's place in the batch and the draws it made."""

    def __init__(self, first: bool, batch: ReplicaBatch | None = None, *, salt: tuple[int, ...] = (), start: int = 0):
        self.first = first
        self.salt = salt
        self.position = start
        self.last: dict[tf.Graph, tf.Operation] = {}
        self.batch = batch
        self.draws: list[int | None] = []


class DeterministicRandom:
    """One backend's generator, and the random ops that draw from it."""

    def __init__(self, seed: int, strategy: tf.distribute.Strategy | None = None):
        self._seed = seed
        # Under a strategy (made in its scope) the state is mirrored: each replica reads and advances
        # its own copy, draw for draw as one device does, so every replica gets one device's keys.
        self.generator = tf.random.Generator.from_seed(seed, alg="philox")
        self._strategy = strategy
        if not tf.executing_eagerly():  # a graph's: kept out of the TF1 program's global_variables()
            own = {id(self.state)}
            if strategy is not None:  # and its copies
                own.update(id(copy) for copy in strategy.experimental_local_results(self.state))
            collection = tf.compat.v1.get_default_graph().get_collection_ref(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
            collection[:] = [v for v in collection if id(v) not in own]
        self._local = threading.local()  # per thread: the run of fn it is in
        self._initial_values = 0  # keys drawn for be.variable's initial values so far
        self._initial_lock = threading.Lock()

    @property
    def state(self) -> tf.Variable:
        """The generator's state variable."""
        state: tf.Variable = self.generator.state
        return state

    def _next_key(self) -> tf.Tensor:
        """The generator's next key: ``make_seeds(1)[:, 0]`` read as TensorFlow reads it without a strategy
        (``RngReadAndSkip``, then Philox's first 64 bits), from the replica's own copy of the state in a
        replica context; outside one, every copy advances alike and the first's key is used."""
        if self._strategy is None:
            return self.generator.make_seeds(1)[:, 0]
        if tf.distribute.in_cross_replica_context():
            copies = self._strategy.experimental_local_results(self.state)
            keys = [_key_from_state(copy.handle) for copy in copies]
            with tf.control_dependencies(keys[1:]):  # in a graph the other copies' reads run with it
                first: tf.Tensor = tf.identity(keys[0])
                return first
        return _key_from_state(self.state.handle)

    @contextlib.contextmanager
    def run(self, *, first: bool, batch: ReplicaBatch | None = None) -> Iterator[None]:
        """One run of a step's ``fn``.

        The first run of a step's fn is where a TF1 program makes its variables, and every mode
        uses it for their initial values only (graph mode builds fn again, ``tf.function``
        traces it again, eager calls run fn anew), so its keys are constants: the n-th random
        op of the first run gets the n-th key derived from the seed, and TensorFlow can lift
        the initial values out of a traced function. Later runs draw each key from the
        generator, in the order fn asks for them: inside a step's graph every stateful op is
        ordered already (automatic control dependencies); a TF1 loop body built in graph
        mode has none, so each key there waits for the previous one of its graph.
        """
        saved = getattr(self._local, "run", None)
        self._local.run = run = _Run(first, batch)
        try:
            yield
        finally:
            self._local.run = saved
        if batch is not None and not tf.executing_eagerly() and not first:
            batch.schedule.draws = run.draws  # a traced run's draws: what eager runs check theirs against

    @contextlib.contextmanager
    def initial_value(self) -> Iterator[None]:
        """A variable's initial value made by dualtf outside any step (``be.variable``): its keys are
        constants, the n-th of the backend's initial values the n-th key derived from the seed (apart
        from a first run's), so the value depends on no variable — a TF1 graph under a strategy copies
        the first replica's initial value to the others and cannot copy a read of the generator."""
        with self._initial_lock:
            saved = getattr(self._local, "run", None)
            self._local.run = run = _Run(True, salt=(1,), start=self._initial_values)
            try:
                yield
            finally:
                self._local.run = saved
                self._initial_values = run.position

    def _key(self) -> tf.Tensor:
        """A stateless seed for one random op: a constant in a first run, else one draw from the generator."""
        run: _Run | None = getattr(self._local, "run", None)
        if run is not None and run.first:
            position, run.position = run.position, run.position + 1
            words = np.random.SeedSequence([self._seed, *run.salt, position]).generate_state(2, np.uint64)
            return tf.constant(words.view(np.int64))
        if run is None or tf.executing_eagerly():
            return self._next_key()
        graph = tf.compat.v1.get_default_graph()
        previous = run.last.get(graph)
        with tf.control_dependencies([] if previous is None else [previous]):
            key = self._next_key()
        run.last[graph] = key.op
        return key

    def _per_replica(
        self, shape: Any, draw: Callable[[Any], tf.Tensor], what: str, *, per_example_ok: bool = True
    ) -> tf.Tensor:
        """``draw(shape)``, or under a strategy this replica's rows of what one device draws.

        One device draws a per-example tensor (dropout's mask: its first dimension the batch) for the
        whole batch; a replica holds a slice of the batch. So a replica draws the whole batch's tensor
        with one device's key and keeps its own rows: every example gets the numbers it gets on one
        device. A draw of fixed shape (an initial value, noise shared by the batch) is drawn as one
        device draws it, on every replica. Which is which: a traced run sees the batch's size as
        unknown (dualtf traces a replica's slices so), a fixed shape as known; an eager run's shapes
        are numbers, and it follows its step's traced run, draw by draw.
        """
        run: _Run | None = getattr(self._local, "run", None)
        batch = None if run is None else run.batch
        if batch is None or batch.replicas == 1:
            return draw(shape)
        assert run is not None
        position = len(run.draws)
        if tf.executing_eagerly():
            dims = tf.TensorShape(tf.convert_to_tensor(shape, tf.int32).numpy().tolist())
            per_example = self._eager_draw_kind(batch, position, dims, what)
        else:
            dims = load("constant_value_as_shape")(tf.convert_to_tensor(shape, tf.int32))
            if dims.rank is None:
                raise DualTFError(
                    error_message(
                        f"Under deterministic_random=True with {batch.replicas} replicas, {what} in step "
                        f"`{batch.schedule.step}` (mode {batch.schedule.mode!r}) must have a shape of known rank, "
                        "so that dualtf can tell a draw per example from one of fixed shape",
                        "a shape of unknown rank",
                    )
                )
            per_example = dims.rank > 0 and dims[0] is None
        run.draws.append(None if per_example else _first(dims))
        if per_example and not per_example_ok:
            raise DualTFError(
                error_message(
                    f"Under deterministic_random=True with {batch.replicas} replicas, {what} in step "
                    f"`{batch.schedule.step}` (mode {batch.schedule.mode!r}) must not reorder a tensor per example: "
                    "one device reorders the whole batch, mixing examples that live on other replicas",
                    f"{what} of a tensor whose first dimension is the replica's batch",
                )
            )
        if not per_example:
            return draw(shape)
        shape = tf.convert_to_tensor(shape, tf.int32)
        with tf.control_dependencies(
            []
            if tf.executing_eagerly()
            else [
                tf.debugging.assert_equal(
                    shape[0],
                    batch.size,
                    message=f"Under deterministic_random=True with {batch.replicas} replicas, {what} in step "
                    f"`{batch.schedule.step}` draws per example (its first dimension unknown while tracing): that "
                    "dimension must be the replica's batch size",
                )
            ]
        ):
            whole = draw(tf.concat([[batch.total], shape[1:]], 0))
        mine: tf.Tensor = whole[batch.offset : batch.offset + batch.size]
        return mine

    @staticmethod
    def _eager_draw_kind(batch: ReplicaBatch, position: int, dims: tf.TensorShape, what: str) -> bool:
        """Whether the ``position``-th draw of an eager replica run is per example, from the step's
        traced run; a draw that run did not make, or of another shape, is refused by name."""
        draws, first = batch.schedule.draws, _first(dims)
        if draws is None:
            said = "made no traced run (its fn could not be traced)"
        elif position >= len(draws):
            said = f"made {len(draws)} draw(s) when traced"
        elif draws[position] is None and first != int(batch.size):
            said = f"drew per example there when traced, and this replica's batch is {int(batch.size)}"
        elif draws[position] is not None and draws[position] != first:
            said = f"drew a first dimension of {draws[position]} there when traced"
        else:
            return draws[position] is None
        raise DualTFError(
            error_message(
                f"Under deterministic_random=True with {batch.replicas} replicas, an eager run of step "
                f"`{batch.schedule.step}` tells a draw per example from one of fixed shape by the step's traced "
                f"run, draw by draw; its draw {position + 1} ({what}, shape {dims}) does not follow it: the step "
                f"{said}. Draw the same shapes in the same order on every run, or run the step in mode 'function'",
                f"draw {position + 1}: {what} of shape {dims}",
            )
        )

    # ------------------------------------------------- TensorFlow's functions, replaced
    # Each takes TensorFlow's own function first, then its arguments. The stateful ops have the
    # signatures of tensorflow.python.ops.gen_random_ops; their seed and seed2 (TF1's per-op
    # seeds) give way to the generator's key.
    def _keyed_bits(self) -> Callable[[Any, tf.DType], tf.Tensor]:
        key = self._key()
        return lambda shape, unsigned: _bits(shape, key, unsigned)

    def random_uniform(
        self, _original: Any, shape: Any, dtype: Any, seed: int = 0, seed2: int = 0, name: Any = None
    ) -> tf.Tensor:
        bits = self._keyed_bits()
        with tf.name_scope(name or "RandomUniform"):
            return self._per_replica(
                shape, lambda s: _unit(lambda unsigned: bits(s, unsigned), tf.as_dtype(dtype)), "tf.random.uniform"
            )

    def random_standard_normal(
        self, _original: Any, shape: Any, dtype: Any, seed: int = 0, seed2: int = 0, name: Any = None
    ) -> tf.Tensor:
        bits = self._keyed_bits()
        with tf.name_scope(name or "RandomStandardNormal"):
            return self._per_replica(shape, lambda s: _normal(bits, s, tf.as_dtype(dtype)), "tf.random.normal")

    def truncated_normal(
        self, _original: Any, shape: Any, dtype: Any, seed: int = 0, seed2: int = 0, name: Any = None
    ) -> tf.Tensor:
        bits = self._keyed_bits()
        with tf.name_scope(name or "TruncatedNormal"):
            return self._per_replica(
                shape, lambda s: _truncated(bits, s, tf.as_dtype(dtype)), "tf.random.truncated_normal"
            )

    def random_uniform_int(
        self, _original: Any, shape: Any, minval: Any, maxval: Any, seed: int = 0, seed2: int = 0, name: Any = None
    ) -> tf.Tensor:
        minval = tf.convert_to_tensor(minval)
        key = self._key()
        with tf.name_scope(name or "RandomUniformInt"):
            return self._per_replica(
                shape,
                lambda s: tf.random.stateless_uniform(s, key, minval, maxval, dtype=minval.dtype, alg="philox"),
                "tf.random.uniform (integers)",
            )

    def random_shuffle(self, _original: Any, value: Any, seed: int = 0, seed2: int = 0, name: Any = None) -> tf.Tensor:
        value = tf.convert_to_tensor(value)
        key = self._key()
        with tf.name_scope(name or "RandomShuffle"):
            bits = self._per_replica(
                value.shape[:1] if value.shape[:1].is_fully_defined() else tf.shape(value)[:1],
                lambda s: _bits(s, key, tf.uint32),
                "tf.random.shuffle",
                per_example_ok=False,
            )
            shuffled: tf.Tensor = tf.gather(value, tf.argsort(bits, stable=True))
            return shuffled

    # The stateless ones (tf.random.stateless_*, Keras' random layers and initializers): their
    # seed made into a Philox key whatever the algorithm asked for, their floats by the formulas above.
    @staticmethod
    def get_key_counter_alg(original: Any, seed: Any, alg: Any) -> Any:
        return original(seed, "philox")

    @staticmethod
    def stateless_random_uniform_v2(
        _original: Any, shape: Any, key: Any, counter: Any, alg: Any, dtype: Any = tf.float32, name: Any = None
    ) -> tf.Tensor:
        bits = _stateless_bits(key, counter)
        with tf.name_scope(name or "StatelessRandomUniformV2"):
            return _stateless_per_replica(
                shape, lambda s: _unit(lambda unsigned: bits(s, unsigned), tf.as_dtype(dtype)), "stateless_uniform"
            )

    @staticmethod
    def stateless_random_normal_v2(
        _original: Any, shape: Any, key: Any, counter: Any, alg: Any, dtype: Any = tf.float32, name: Any = None
    ) -> tf.Tensor:
        with tf.name_scope(name or "StatelessRandomNormalV2"):
            bits = _stateless_bits(key, counter)
            return _stateless_per_replica(shape, lambda s: _normal(bits, s, tf.as_dtype(dtype)), "stateless_normal")

    @staticmethod
    def stateless_truncated_normal_v2(
        _original: Any, shape: Any, key: Any, counter: Any, alg: Any, dtype: Any = tf.float32, name: Any = None
    ) -> tf.Tensor:
        with tf.name_scope(name or "StatelessTruncatedNormalV2"):
            bits = _stateless_bits(key, counter)
            return _stateless_per_replica(
                shape, lambda s: _truncated(bits, s, tf.as_dtype(dtype)), "stateless_truncated_normal"
            )


def _stateless_per_replica(shape: Any, draw: Callable[[Any], tf.Tensor], what: str) -> tf.Tensor:
    """A stateless draw (its key the caller's), per replica as the generator's draws are."""
    frame = current()
    random = None if frame is None else frame.random
    if random is None:
        return draw(shape)
    per_replica: tf.Tensor = random._per_replica(shape, draw, what)
    return per_replica


def drawn_by_the_generator(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The replacement of TensorFlow's random-op function ``name``: inside a step of a backend with the
    switch, :class:`DeterministicRandom`'s method of that name; elsewhere TensorFlow's own."""

    def replace(original: Callable[..., Any]) -> Callable[..., Any]:
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            frame = current()
            if frame is None or frame.random is None:
                return original(*args, **kwargs)
            return getattr(frame.random, name)(original, *args, **kwargs)

        return dispatch

    return replace
