"""The entry point: :func:`backend`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ModeError, format_error
from ._modes import check_mode, mode_unavailable_reason

if TYPE_CHECKING:
    from ._backends.base import Backend

__all__ = ["backend"]


def backend(
    mode: str, *, seed: int | None = None, strategy: Any = None, deterministic_random: bool = False, **options: Any
) -> Backend:
    """A fresh backend for ``mode``; use it as a context manager.

    ``seed`` seeds Python, NumPy, TensorFlow and Keras (as
    ``keras.utils.set_random_seed`` does; in graph mode TensorFlow's seed is
    the graph's own) so that initializers and seeded random ops agree across
    modes. With ``deterministic_random=True`` (a seed needed) every stateful
    random op (``tf.random.*``, ``tf.nn.dropout``, TF1's initializers) draws
    from one generator of the backend, so a step draws the same numbers in
    every mode, XLA included (see docs/modes.md, "Random numbers"), and under a
    strategy the numbers one device draws (docs/strategies.md). Options per mode: ``graph`` accepts ``config`` (a
    ``tf.compat.v1.ConfigProto``); the others accept none.

    ``strategy`` is a name from :data:`dualtf.STRATEGIES` (``"cpu"``, ``"mirrored"``,
    ...) or a ``tf.distribute.Strategy`` you built; variables made through the
    backend live in its scope and steps run once per replica (see
    :meth:`Backend.function`). An unavailable strategy, or a mode x strategy
    combination TensorFlow does not support, is a DualTFError with the reason.

    Inside the ``with`` block of a graph backend its graph is the default
    graph, so plain TensorFlow ops and Keras layers made there belong to it.

    >>> import dualtf, tensorflow as tf
    >>> for mode in dualtf.available_modes():
    ...     with dualtf.backend(mode) as be:
    ...         print(mode, be.evaluate(tf.add(be.constant([0, 1, 2]), [10, 20, 30])))
    graph [10 21 32]
    eager [10 21 32]
    function [10 21 32]
    xla [10 21 32]
    """
    checked = check_mode(mode)
    reason = mode_unavailable_reason(checked)
    if reason is not None:
        raise ModeError(format_error(f"Mode {checked!r}", "available on this machine", reason))
    from ._backends import backend_class

    return backend_class(checked)(seed=seed, strategy=strategy, deterministic_random=deterministic_random, **options)
