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


def _compute_dtype(dtype: tf.DType) -> tf.DType:
    return tf.float64 if dtype == tf.float64 else tf.float32


class _Run:
    """Where one run of a step's fn is: first or not, its next constant key, its last key op per graph."""

    def __init__(self, first: bool):
        self.first = first
        self.position = 0
        self.last: dict[tf.Graph, tf.Operation] = {}


class DeterministicRandom:
    """One backend's generator, and the random ops that draw from it."""

    def __init__(self, seed: int):
        self._seed = seed
        self.generator = tf.random.Generator.from_seed(seed, alg="philox")
        if not tf.executing_eagerly():  # a graph's: kept out of the TF1 program's global_variables()
            collection = tf.compat.v1.get_default_graph().get_collection_ref(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
            collection[:] = [v for v in collection if v is not self.state]
        self._local = threading.local()  # per thread: the run of fn it is in

    @property
    def state(self) -> tf.Variable:
        """The generator's state variable."""
        state: tf.Variable = self.generator.state
        return state

    @contextlib.contextmanager
    def run(self, *, first: bool) -> Iterator[None]:
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
        self._local.run = _Run(first)
        try:
            yield
        finally:
            self._local.run = saved

    def _key(self) -> tf.Tensor:
        """A stateless seed for one random op: a constant in a first run, else one draw from the generator."""
        run: _Run | None = getattr(self._local, "run", None)
        if run is not None and run.first:
            position, run.position = run.position, run.position + 1
            words = np.random.SeedSequence([self._seed, position]).generate_state(2, np.uint64)
            return tf.constant(words.view(np.int64))
        if run is None or tf.executing_eagerly():
            return self.generator.make_seeds(1)[:, 0]
        graph = tf.compat.v1.get_default_graph()
        previous = run.last.get(graph)
        with tf.control_dependencies([] if previous is None else [previous]):
            key = self.generator.make_seeds(1)[:, 0]
        run.last[graph] = key.op
        return key

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
            return _unit(lambda unsigned: bits(shape, unsigned), tf.as_dtype(dtype))

    def random_standard_normal(
        self, _original: Any, shape: Any, dtype: Any, seed: int = 0, seed2: int = 0, name: Any = None
    ) -> tf.Tensor:
        with tf.name_scope(name or "RandomStandardNormal"):
            return _normal(self._keyed_bits(), shape, tf.as_dtype(dtype))

    def truncated_normal(
        self, _original: Any, shape: Any, dtype: Any, seed: int = 0, seed2: int = 0, name: Any = None
    ) -> tf.Tensor:
        with tf.name_scope(name or "TruncatedNormal"):
            return _truncated(self._keyed_bits(), shape, tf.as_dtype(dtype))

    def random_uniform_int(
        self, _original: Any, shape: Any, minval: Any, maxval: Any, seed: int = 0, seed2: int = 0, name: Any = None
    ) -> tf.Tensor:
        minval = tf.convert_to_tensor(minval)
        with tf.name_scope(name or "RandomUniformInt"):
            drawn: tf.Tensor = tf.random.stateless_uniform(
                shape, self._key(), minval, maxval, dtype=minval.dtype, alg="philox"
            )
            return drawn

    def random_shuffle(self, _original: Any, value: Any, seed: int = 0, seed2: int = 0, name: Any = None) -> tf.Tensor:
        value = tf.convert_to_tensor(value)
        with tf.name_scope(name or "RandomShuffle"):
            order = tf.argsort(_bits(tf.shape(value)[:1], self._key(), tf.uint32), stable=True)
            shuffled: tf.Tensor = tf.gather(value, order)
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
            return _unit(lambda unsigned: bits(shape, unsigned), tf.as_dtype(dtype))

    @staticmethod
    def stateless_random_normal_v2(
        _original: Any, shape: Any, key: Any, counter: Any, alg: Any, dtype: Any = tf.float32, name: Any = None
    ) -> tf.Tensor:
        with tf.name_scope(name or "StatelessRandomNormalV2"):
            return _normal(_stateless_bits(key, counter), shape, tf.as_dtype(dtype))

    @staticmethod
    def stateless_truncated_normal_v2(
        _original: Any, shape: Any, key: Any, counter: Any, alg: Any, dtype: Any = tf.float32, name: Any = None
    ) -> tf.Tensor:
        with tf.name_scope(name or "StatelessTruncatedNormalV2"):
            return _truncated(_stateless_bits(key, counter), shape, tf.as_dtype(dtype))


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
