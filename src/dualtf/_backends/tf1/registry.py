"""Every TensorFlow (and Keras) name dualtf replaces at run time: one row each, held only while dualtf runs steps.

dualtf runs TF1 code as written in every mode by replacing a few TensorFlow objects. Each
replacement is a :class:`Replacement` row of :data:`REPLACEMENTS`: its target (``module:attribute``),
the feature that needs it, what it is held while, and why no op scan or public API does the
job. A row is installed by its first user and put back by its last (:class:`~.installed.Installed`),
and only while dualtf builds or runs a step's ``fn`` (:class:`~.code.StepCode`): ``held_while``
is ``"step"`` — or ``"keras loop"`` for the two rows graph mode's ``be.keras(model)`` holds while
Keras' own loop runs its Session steps (:mod:`.served`). A row held for a backend's whole life
would need a written reason, and there is none. Every replacement also asks the thread's context
first (:func:`~.context.current`, or :func:`~.served.served_by`'s server), so even while it is
installed, other threads, the user's own graphs and Sessions and the block outside steps see
TensorFlow's own behaviour.

A target TensorFlow no longer has makes only its feature unavailable: :func:`hold` skips it,
:func:`missing` says why (``deterministic_random=True`` refuses to open with that reason), and
``tests/test_registry.py`` resolves every target by name, so an upgrade fails one named test.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from ..._errors import PrivateAPIError, error_message
from .calls import decays_as_in_a_graph, refuse_initializer, refuse_queue_input, refuse_session
from .gradients import gradients_from_the_tape
from .installed import Installed
from .layers import tf1_layers_from_tf_keras
from .random import drawn_by_the_generator
from .served import assigned_by_the_session, read_by_the_session

__all__ = ["FEATURES", "REPLACEMENTS", "Replacement", "hold", "markdown_table", "missing", "resolve"]


class Replacement(NamedTuple):
    """One TensorFlow object dualtf replaces: where, for what, while when, why, and by what."""

    #: ``module:attribute.path`` — the object replaced (a class attribute is replaced on the class).
    target: str
    #: The feature that needs it: TF1 calls, TF1 layers, TF1 gradients, deterministic random.
    feature: str
    #: ``"step"``: while dualtf builds or runs a step's fn; ``"keras loop"``: while graph mode's
    #: ``be.keras(model)`` runs Keras' own loop, whose steps the Session runs.
    held_while: str
    #: Why a replacement, rather than a scan of the built ops or a public API.
    why: str
    #: TensorFlow's object -> its replacement (which does TensorFlow's own thing outside a step).
    replace: Callable[[Any], Any]


_RANDOM_WHY = (
    "every stateful random op (tf.random.*, tf.nn.dropout, TF1 initializers) and every stateless float op "
    "(Keras' random layers and initializers) calls it; replaced, each draws from the backend's one Philox "
    "generator, the same numbers in every mode, XLA included"
)

#: Every run-time replacement dualtf makes, in one table (docs/architecture.md shows it).
REPLACEMENTS: tuple[Replacement, ...] = (
    Replacement(
        "tensorflow.python.client.session:BaseSession.__init__",
        "tf1_calls",
        "step",
        "a Session made inside a step would run a graph of its own; making one leaves no op to scan. The base "
        "class: Session, InteractiveSession and the sessions MonitoredSession and Supervisor make",
        refuse_session,
    ),
    Replacement(
        "tensorflow.python.ops.resource_variable_ops:BaseResourceVariable.initializer",
        "tf1_calls",
        "step",
        "an initializer run in a step would re-initialize every call; global_variables_initializer() and its "
        "kin read it whichever alias of tf.compat.v1 the user called them through, and in a traced function "
        "they leave no op that says what they were",
        refuse_initializer,
    ),
    *(
        Replacement(
            f"tensorflow.python.training.{module}:context",
            "tf1_calls",
            "step",
            f"{what} ask this module's context.executing_eagerly() first, whichever alias they were called through, "
            "before they check their arguments or make a queue (whose ops are scanned too)",
            refuse_queue_input,
        )
        for module, what in (
            ("queue_runner_impl", "start_queue_runners() and QueueRunner, which leave no op to scan,"),
            ("input", "tf.compat.v1.train.batch, shuffle_batch, string_input_producer and the other queue inputs"),
        )
    ),
    Replacement(
        "tensorflow.python.keras.optimizer_v2.legacy_learning_rate_decay:context",
        "tf1_calls",
        "step",
        "TF1's learning-rate decays (tf.compat.v1.train.exponential_decay, ...) return a function under eager "
        "execution and a tensor in a graph; each asks this module's context.executing_eagerly(), so one "
        "replacement covers all nine, whichever alias they were called through",
        decays_as_in_a_graph,
    ),
    Replacement(
        "tensorflow.python.util.lazy_loader:KerasLazyLoader.__getattr__",
        "tf1_layers",
        "step",
        "tf.compat.v1.layers and nn.rnn_cell are Keras lazy loaders that Keras 3 refuses; the loader class is "
        "the one object every alias and `from tensorflow.compat.v1 import layers` reaches them through",
        tf1_layers_from_tf_keras,
    ),
    Replacement(
        "tensorflow.python.training.optimizer:Optimizer.compute_gradients",
        "tf1_gradients",
        "step",
        "under eager execution TensorFlow refuses a tensor loss; an eager step's run records a tape, and the "
        "gradients come from it (TF1 differentiates its graph)",
        gradients_from_the_tape,
    ),
    Replacement(
        "keras.src.backend.common.variables:Variable.value",
        "graph_keras",
        "keras loop",
        "graph mode runs Keras' own loop eagerly and its steps through the Session: what the loop and its "
        "callbacks read eagerly (a metric's result, ModelCheckpoint's save, get_weights) of a model whose "
        "variables live in the graph is read by a Session run; every read of a Keras variable goes through it",
        read_by_the_session,
    ),
    Replacement(
        "keras.src.backend.tensorflow.core:Variable._direct_assign",
        "graph_keras",
        "keras loop",
        "the same loop's eager assigns (reset_metrics, LearningRateScheduler, set_weights, EarlyStopping's best "
        "weights) of a graph variable are Session runs; every assign of a Keras variable goes through it",
        assigned_by_the_session,
    ),
    *(
        Replacement(f"tensorflow.python.ops.{module}:{name}", "deterministic_random", "step", _RANDOM_WHY, replace)
        for module, name, replace in (
            (module, name, drawn_by_the_generator(name))
            for module, name in (
                ("gen_random_ops", "random_uniform"),
                ("gen_random_ops", "random_standard_normal"),
                ("gen_random_ops", "truncated_normal"),
                ("gen_random_ops", "random_uniform_int"),
                ("gen_random_ops", "random_shuffle"),
                ("gen_stateless_random_ops_v2", "stateless_random_uniform_v2"),
                ("gen_stateless_random_ops_v2", "stateless_random_normal_v2"),
                ("gen_stateless_random_ops_v2", "stateless_truncated_normal_v2"),
                ("random_ops_util", "get_key_counter_alg"),
            )
        )
    ),
)

#: The features, each with its rows.
FEATURES: dict[str, tuple[Replacement, ...]] = {
    feature: tuple(r for r in REPLACEMENTS if r.feature == feature)
    for feature in dict.fromkeys(r.feature for r in REPLACEMENTS)
}


def resolve(target: str) -> tuple[Any, str, Any]:
    """``(owner, attribute, TensorFlow's object)`` of a target; a PrivateAPIError naming it when it is gone.

    >>> owner, name, init = resolve("tensorflow.python.client.session:BaseSession.__init__")
    >>> owner.__name__, name, init.__name__
    ('BaseSession', '__init__', '__init__')
    """
    module_name, _, path = target.partition(":")
    *parents, name = path.split(".")
    try:
        owner = functools.reduce(getattr, parents, importlib.import_module(module_name))
        original = vars(owner)[name] if isinstance(owner, type) else getattr(owner, name)
    except (ImportError, AttributeError, KeyError) as exc:
        import tensorflow as tf

        raise PrivateAPIError(
            error_message(
                f"dualtf replaces TensorFlow's `{target}` while a step runs, which TensorFlow {tf.__version__} "
                "lacks; the feature that needs it is unavailable. Please report it with your TensorFlow version.",
                f"{type(exc).__name__}: {exc}",
            )
        ) from None
    return owner, name, original


def _install(row: Replacement) -> Callable[[], None]:
    owner, name, original = resolve(row.target)
    setattr(owner, name, row.replace(original))
    return functools.partial(setattr, owner, name, original)


_INSTALLED = {row.target: Installed(functools.partial(_install, row)) for row in REPLACEMENTS}


@functools.cache
def missing(feature: str) -> str | None:
    """Why ``feature`` is unavailable (a target TensorFlow lacks), or None.

    >>> missing("deterministic_random") is None
    True
    """
    for row in FEATURES[feature]:
        try:
            resolve(row.target)
        except PrivateAPIError as exc:
            return str(exc)
    return None


@contextlib.contextmanager
def hold(features: Iterable[str]) -> Iterator[None]:
    """The rows of ``features`` installed while the block runs (a feature with a missing target: skipped)."""
    with contextlib.ExitStack() as stack:
        for feature in features:
            if missing(feature) is None:
                for row in FEATURES[feature]:
                    stack.enter_context(_INSTALLED[row.target].held())
        yield


def markdown_table() -> str:
    """The registry as the table docs/architecture.md shows (a test checks it is current)."""
    lines = ["| target | feature | held while | why |", "|---|---|---|---|"]
    for row in REPLACEMENTS:
        lines.append(f"| `{row.target}` | {row.feature} | {row.held_while} | {row.why} |")
    return "\n".join(lines) + "\n"
