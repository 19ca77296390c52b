"""Strategy names, discovery and the mode x strategy support table.

Importing this module never imports TensorFlow; discovery does.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, NamedTuple

from ._choices import parse_names
from ._errors import DualTFError, StrategyError, format_error
from ._tf_private import cross_device_ops, require_tensorflow

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "STRATEGIES",
    "STRATEGY_FEATURES",
    "StrategyFeature",
    "feature_refused_reason",
    "feature_table_markdown",
    "available_strategies",
    "combination_unsupported_reason",
    "configure_virtual_cpus",
    "make_strategy",
    "parse_strategies",
    "strategy_name",
    "strategy_unavailable_reason",
]

#: Every strategy name dualtf knows. ``default`` means no tf.distribute strategy.
STRATEGIES: tuple[str, ...] = ("default", "cpu", "gpu", "mirrored", "tpu", "multiworker")


class StrategyFeature(NamedTuple):
    """One feature of a step and how it runs under a ``tf.distribute`` strategy."""

    #: The key the code refuses it by (None: not refused).
    key: str | None
    #: How a user asks for it.
    asked: str
    #: Why it is refused under every strategy (None: it runs, in the cells the mode table allows).
    refused: str | None
    #: Where it runs, in words.
    runs: str = ""


#: Every feature a step has, and whether it runs under a strategy: the one table that refusals
#: (``Backend._refuse_strategy``) and docs/strategies.md's feature table are made from.
STRATEGY_FEATURES: tuple[StrategyFeature, ...] = (
    StrategyFeature(
        None,
        "`be.function(fn, feeds)`, variables, `be.evaluate`, `be.assign`",
        None,
        "every cell of the mode table; feeds split per replica, outputs reduced",
    ),
    StrategyFeature(
        None,
        "`be.keras(model)`: `fit`, `evaluate`, `predict`",
        None,
        "Keras' own loop under the strategy in eager, function and xla (xla on CPUs is refused by the mode "
        "table (2)); graph is refused, below",
    ),
    StrategyFeature(
        "graph_keras",
        "`be.keras(model)` in mode graph",
        "graph mode runs Keras' loop eagerly and its steps through the Session, which under a strategy cannot "
        "build a Keras optimizer's replica all-reduce (1), nor give Keras' optimizer its variables (read through "
        "the Session) when Keras builds it in the strategy's scope; run the model in mode 'function'",
    ),
    StrategyFeature(
        None,
        "`be.function(..., steps_per_call=K)`",
        None,
        "every cell of the mode table: each of the K passes is one `strategy.run` on its replicas' slices of "
        "that step's batch (the batch axis is the second: it must divide across the replicas)",
    ),
    StrategyFeature(
        None,
        "`be.epoch(fn, dataset)`",
        None,
        "every cell of the mode table: each batch split across the replicas as a step's feeds are, outputs "
        "averaged; the batches must have one size that divides (`batch(..., drop_remainder=True)`)",
    ),
    StrategyFeature(
        "variables_in_step",
        "variables made inside a step's `fn` (TF1 code: `tf.compat.v1.get_variable`, `tf.Variable`, an "
        "optimizer's slots, a Keras layer built on its first call)",
        "each replica would make its copy inside `strategy.run`, which TensorFlow cannot initialize from the "
        "step (an UnliftableError; in a TF1 graph 'Variable already exists'): make them before the step "
        "(`be.variable`, a Keras model and `optimizer.build` in `be.scope()`)",
    ),
    StrategyFeature(
        "reuse",
        "`be.function(..., reuse=step)`",
        "a step that reuses another's TF1 variable store must find its variables in the strategy's scope as "
        "mirrored variables, which dualtf does not check yet",
    ),
    StrategyFeature(
        None,
        "`dualtf.backend(..., deterministic_random=True)`: steps, fused steps, epochs",
        None,
        "every cell of the mode table, with one device's numbers: each replica reads one device's keys from its "
        "own copy of the generator's state and draws a per-example tensor (dropout's mask: its first dimension "
        "the batch, unknown while dualtf traces a replica's slices) for the whole batch, keeping its own rows; a "
        "draw of fixed shape is drawn whole on every replica. Eager runs follow the step's traced run, draw by "
        "draw. Refused by name: `tf.random.shuffle` of a per-example tensor (one device mixes examples across "
        "replicas), a draw per example whose first dimension is not the replica's batch",
    ),
    StrategyFeature(
        None,
        "`be.keras(model)` with `deterministic_random=True`",
        None,
        "function and xla, as Keras' loops run: each replica "
        "draws its rows of one device's draws, its offset in the batch from every replica's size (Keras' last "
        "batch may split unevenly), and its step traced with the batch size unknown, as dualtf's own steps are",
    ),
    StrategyFeature(
        "keras_eager_random",
        "`be.keras(model)` with `deterministic_random=True` in mode eager",
        "Keras' eager loop never traces its steps, and an eager draw's shape is a number: dualtf could not tell a "
        "draw per example (its rows differ per replica) from one of fixed shape",
    ),
)


def feature_refused_reason(key: str) -> str:
    """Why the feature ``key`` of :data:`STRATEGY_FEATURES` is refused under a strategy.

    >>> feature_refused_reason("reuse").split(" must ")[0]
    "a step that reuses another's TF1 variable store"
    """
    for feature in STRATEGY_FEATURES:
        if feature.key == key and feature.refused is not None:
            return feature.refused
    raise KeyError(key)


def feature_table_markdown() -> str:
    """docs/strategies.md's feature table, made from :data:`STRATEGY_FEATURES`: each feature against
    each strategy, ✓ or the refusal (the mode x strategy table applies first)."""
    names = [name for name in STRATEGIES if name != "default"]
    lines = [
        "| feature | default | " + " | ".join(names) + " | under a strategy |",
        "|---|---|" + "---|" * len(names) + "---|",
    ]
    for feature in STRATEGY_FEATURES:
        cell = "✓" if feature.refused is None else "refused"
        why = feature.runs if feature.refused is None else f"refused by name at build: {feature.refused}"
        lines.append(f"| {feature.asked} | ✓ | " + " | ".join(cell for _ in names) + f" | {why} |")
    return "\n".join(lines)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or name not in STRATEGIES:
        raise StrategyError(
            format_error(
                "The strategy", f"one of {', '.join(STRATEGIES)} or a tf.distribute.Strategy", f"strategy={name!r}"
            )
        )
    return name


def parse_strategies(value: object, where: str | None = None) -> tuple[str, ...]:
    """A list of strategy names (``"cpu,mirrored"`` or a sequence) checked against :data:`STRATEGIES`.

    The one parser behind ``--dualtf-strategies``, the marker and ``strategies=`` arguments.

    >>> parse_strategies("default,mirrored")
    ('default', 'mirrored')
    """
    return parse_names(value, STRATEGIES, "strategy", StrategyError, where)


def _mirrored_devices() -> list[str]:
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return [d.name for d in gpus]
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def strategy_unavailable_reason(name: str) -> str | None:
    """Why strategy ``name`` cannot run in this process, or None, from real device discovery.

    >>> strategy_unavailable_reason("cpu") is None
    True
    """
    _check_name(name)
    require_tensorflow()
    if name in ("default", "cpu"):
        return None
    import tensorflow as tf

    if name == "gpu":
        return None if tf.config.list_physical_devices("GPU") else "no GPU is visible to TensorFlow"
    if name == "mirrored":
        devices = _mirrored_devices()
        if len(devices) >= 2:
            return None
        return (
            "mirrored needs 2 or more GPUs or logical CPUs; this process has "
            f"{len(devices)} ({', '.join(devices)}). Split the CPU with dualtf.configure_virtual_cpus(2) "
            "before TensorFlow initializes (pytest: --dualtf-virtual-cpus 2)"
        )
    if name == "tpu":
        try:
            tf.distribute.cluster_resolver.TPUClusterResolver()
        except (ValueError, RuntimeError, ImportError) as exc:
            return f"no TPU found by TPUClusterResolver ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
        return None
    # multiworker
    config = os.environ.get("TF_CONFIG")
    if not config:
        return (
            "multiworker needs TF_CONFIG naming the workers; dualtf.multiworker.run_workers starts them on this machine"
        )
    try:
        workers = json.loads(config)["cluster"]["worker"]
    except (ValueError, KeyError, TypeError):
        return f"TF_CONFIG must be JSON with cluster.worker; it is {config[:80]!r}"
    return None if workers else "TF_CONFIG names no workers"


def available_strategies() -> tuple[str, ...]:
    """The strategy names that can run in this process, in :data:`STRATEGIES` order.

    >>> import dualtf
    >>> "default" in dualtf.available_strategies()
    True
    """
    return tuple(s for s in STRATEGIES if strategy_unavailable_reason(s) is None)


def make_strategy(name: str, mode: str = "function") -> tf.distribute.Strategy | None:
    """A new strategy for an available ``name`` (``None`` for ``default``) to run ``mode``.

    An unavailable strategy is a :class:`~dualtf.StrategyError` with the reason.
    """
    _check_name(name)
    reason = strategy_unavailable_reason(name)
    if reason is not None:
        raise StrategyError(format_error(f"Strategy {name!r}", "available on this machine", reason))
    import tensorflow as tf

    if name == "default":
        return None
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "gpu":
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    if name == "mirrored":
        # On logical CPUs TensorFlow would pick collective all-reduce, whose instance keys
        # collide between two MirroredStrategy objects in one process (the second one's
        # steps abort with 'Shape mismatch in the collective instance'); in graph mode
        # collectives and NCCL deadlock under ordered side effects. Both: reduce through
        # one device. GPUs outside graph mode keep TensorFlow's choice (NCCL).
        gpus = tf.config.list_logical_devices("GPU")
        cross = None if gpus and mode != "graph" else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(_mirrored_devices(), cross_device_ops=cross)
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.MultiWorkerMirroredStrategy()


def strategy_name(strategy: Any) -> str:
    """The dualtf name of a strategy object (``"custom"`` for others)."""
    import tensorflow as tf

    if strategy is None:
        return "default"
    kinds: list[tuple[type, str]] = [
        (
            tf.distribute.OneDeviceStrategy,
            "gpu" if "GPU" in " ".join(strategy.extended.worker_devices).upper() else "cpu",
        ),
        (tf.distribute.MirroredStrategy, "mirrored"),
        (tf.distribute.MultiWorkerMirroredStrategy, "multiworker"),
        (tf.distribute.TPUStrategy, "tpu"),
    ]
    for cls, label in kinds:
        if isinstance(strategy, cls):
            return label
    return "custom"


def combination_unsupported_reason(mode: str, strategy: Any) -> str | None:
    """Why TensorFlow cannot run ``mode`` under ``strategy`` (an object or None), or None.

    The table is in docs/strategies.md; each "no" here was seen to fail or give
    a silently different result, so dualtf refuses it up front.
    """
    if strategy is None:
        return None
    import tensorflow as tf

    name = strategy_name(strategy)
    if name == "tpu" and mode in ("graph", "eager"):
        return f"TPUStrategy runs only inside tf.function in TF2 (mode {mode!r} would run op by op on the host)"
    reduces_through_one_device = isinstance(cross_device_ops(strategy), tf.distribute.ReductionToOneDevice)
    if mode == "graph" and strategy.num_replicas_in_sync > 1 and not reduces_through_one_device:
        return (
            "a TF1 graph step orders its stateful ops (as tf.function does), one replica after another, while "
            "collective or NCCL all-reduce ops must launch together on every replica: the step would wait "
            "forever. dualtf's own 'mirrored' reduces through one device in graph mode; build yours with "
            "cross_device_ops=tf.distribute.ReductionToOneDevice()"
        )
    on_cpu = not tf.config.list_logical_devices("GPU")
    if mode == "xla" and name == "multiworker" and on_cpu:
        return (
            "XLA cannot compile the collective ops that reduce across workers on CPU devices "
            "(TensorFlow: 'Collectives are not yet implemented for CPU devices when compiling with XLA')"
        )
    if mode == "xla" and name in ("mirrored", "custom") and on_cpu and strategy.num_replicas_in_sync > 1:
        return (
            "XLA compiles each replica's step for one device, and on logical CPU devices it places every replica's "
            "program on CPU:0, away from the replica's variables (TensorFlow error: 'Trying to access resource ... "
            "located in device CPU:1 from device CPU:0')"
        )
    return None


def configure_virtual_cpus(n: int) -> None:
    """Split the host CPU into ``n`` logical devices, so ``mirrored`` runs without GPUs.

    Must run before TensorFlow initializes its devices (before the first op,
    variable or backend); later calls with another ``n`` raise DualTFError.
    Calling it again with the same ``n`` is a no-op.

    >>> import dualtf
    >>> dualtf.configure_virtual_cpus(2)   # doctest: +SKIP
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DualTFError(format_error("configure_virtual_cpus(n)", "given an int n >= 1", f"n={n!r}"))
    require_tensorflow()
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        raise DualTFError(
            format_error(
                f"configure_virtual_cpus({n})",
                "called before TensorFlow initializes its devices (before the first op, variable or backend)",
                f"a call after initialization, with {have} logical CPU(s) already set up",
            )
        ) from None
