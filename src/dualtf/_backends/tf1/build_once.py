"""TF1's "the graph is built once", for a step whose ``fn`` creates its variables itself.

A TF1 program creates its variables (``tf.Variable``, ``get_variable``, an optimizer's
slots) in its graph-building code, which runs once. Moved into a step's ``fn``, that
code runs once per build (graph mode builds twice), per trace (``tf.function`` traces
twice when variables are made) or per call (eager). :class:`BuildOnce` makes every run
after the first hand back the first run's variables (matched by the name each creation asks
for and how many of that name the run made before), so a TF1
program keeps one set of variables in every mode; ``get_variable`` runs under
``AUTO_REUSE`` for the same reason. Code that creates its variables only once (Keras
layers and optimizers) creates nothing on later runs and is not affected.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from ..._errors import DualTFError, error_message
from ..tensors import as_tf_variable

__all__ = ["BuildOnce", "add_regularization_loss"]


#: Collections a TF1 graph fills while it is built and reads in the same build: each run of fn
#: has its own (regularization losses; a batch normalization's moving-average updates, which
#: ``tf.control_dependencies(tf.get_collection(UPDATE_OPS))`` runs with the train op).
_PER_RUN = (tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES, tf.compat.v1.GraphKeys.UPDATE_OPS)


def _signature(kwargs: dict[str, Any]) -> tuple[str | None, tuple[int | None, ...] | None]:
    """The dtype and shape a creation asks for, where it says (an initializer callable does not)."""
    dtype = kwargs.get("dtype")
    shape = kwargs.get("shape")
    initial = kwargs.get("initial_value")
    if shape is None and initial is not None and not callable(initial):
        shape = getattr(initial, "shape", None)
        if shape is None:
            shape = np.shape(initial)
    name = None if dtype is None else tf.as_dtype(dtype).base_dtype.name
    return name, None if shape is None else tuple(tf.TensorShape(shape).as_list())


class BuildOnce:
    """The variables ``fn`` creates, made on its first run and handed back on every later one."""

    def __init__(self, name: str, mode: str, reuse: BuildOnce | None = None):
        #: The step's name and mode, for messages.
        self.name, self.mode = name, mode
        self._name = name
        #: The first run's variables with the dtype and shape asked for, by (name asked for, how many
        #: variables of that name the run had made before): a later run's creations match by it.
        self._made: dict[tuple[str | None, int], tuple[Any, tuple[str | None, tuple[int | None, ...] | None]]] = {}
        self._runs = 0
        self._got = False  # get_variable called on some run
        #: With ``reuse``: another step's variables, from the first run on (TF1's one graph).
        self._reused = reuse
        if reuse is not None:
            self._made, self._runs = reuse._made, 1
        self._local = threading.local()  # the names made so far in this run, per thread

    @property
    def touched(self) -> bool:
        """Whether ``fn`` made a variable or called ``get_variable`` on any run so far (TF1 code)."""
        return bool(self._made) or self._got

    @property
    def runs(self) -> int:
        """How many runs of ``fn`` have ended."""
        return self._runs

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One run of ``fn`` with this store."""
        if self._runs and not self.touched and tf.executing_eagerly():
            # An eager call of TF2 code (its build made no variable, called no get_variable):
            # only a guard that a variable made now is refused, without TF1's scope and collections.
            self._local.first, self._local.names = False, {}
            with tf.variable_creator_scope(self._creator):
                return fn(*args)
        with self.run():
            return fn(*args)

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        """One run of ``fn``: the first creates, later ones get the first's variables back.

        Regularization losses (``get_variable(regularizer=)``, a TF1 layer's
        ``kernel_regularizer``) are in ``REGULARIZATION_LOSSES`` on every run, as in the one
        TF1 build, though TensorFlow adds one only when it creates its variable: the
        ``get_variable`` ones are added here on every run; for a TF1 layer, which decides by
        whether its variable is in ``global_variables()``, a later run in a TF1 graph (graph
        mode's second build) has the step's variables out of that collection while it runs.
        Each run's losses, and its ``UPDATE_OPS``, are taken out of their collections when it
        ends, so none is left stale or counted (or run) twice.
        """
        graph = tf.compat.v1.get_default_graph()
        self._local.names = {}
        self._local.first = self._runs == 0
        scope = tf.compat.v1.get_variable_scope()
        per_run = [graph.get_collection_ref(key) for key in _PER_RUN]
        before = [list(collection) for collection in per_run]
        known = graph.get_collection_ref(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
        listed = list(known)
        hidden = bool(self._runs) and not tf.executing_eagerly() and not graph.building_function
        if hidden:
            made = {id(var) for var, _ in self._made.values()}
            known[:] = [v for v in listed if id(v) not in made]
        try:
            with (
                tf.compat.v1.variable_scope(scope, reuse=tf.compat.v1.AUTO_REUSE, custom_getter=self._getter),
                tf.variable_creator_scope(self._creator),
            ):
                yield
        except BaseException:
            if self._local.first and self._reused is None:  # a failed first run: the next one is the first
                self._made.clear()
                self._got = False
            raise
        finally:
            for collection, items in zip(per_run, before, strict=True):
                collection[:] = items
            if hidden:  # as listed, with what the run added after
                known[:] = listed + [v for v in known if all(v is not w for w in listed)]
        self._runs += 1

    def _getter(self, getter: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
        """``get_variable`` on this run, with its regularizer applied on every run."""
        regularizer = kwargs.pop("regularizer", None)
        self._got = True
        var = getter(name, *args, **kwargs)
        if regularizer is not None:
            add_regularization_loss(var, regularizer, name)
        return var

    def _creator(self, next_creator: Callable[..., Any], **kwargs: Any) -> Any:
        asked = kwargs.get("name")
        asked = None if asked is None else str(asked)
        names: dict[str | None, int] = self._local.names
        key = (asked, names.get(asked, 0))  # a variable found instead of made (get_or_create_global_step,
        names[asked] = key[1] + 1  # get_variable's reuse) leaves the others' keys as they were
        wanted = _signature(kwargs)
        label = f"`{asked}`" if key[1] == 0 else f"`{asked}` #{key[1] + 1}"
        if self._local.first:
            var = next_creator(**kwargs)
            self._made[key] = (var, wanted)
        elif key in self._made:
            var, made = self._made[key]
            if any(w is not None and m is not None and w != m for w, m in zip(wanted, made, strict=True)):
                raise DualTFError(
                    error_message(
                        f"Variable {label} that step `{self._name}` creates must be the same on every run of its fn "
                        "(a TF1 graph is built once, so dualtf hands back the first run's variable of that name).",
                        f"dtype and shape {wanted} where the first run made {made}",
                    )
                )
        elif self._reused is not None:
            raise DualTFError(
                error_message(
                    f"Step `{self._name}`, made with reuse=`{self._reused._name}`, must create only variables that "
                    f"step `{self._reused._name}` made (it made {len(self._made)}): they are the same variables, "
                    "as in one TF1 graph.",
                    f"a run that creates variable {label}",
                )
            )
        else:
            raise DualTFError(
                error_message(
                    f"Step `{self._name}` must create the same variables on every run of its fn (a TF1 graph is "
                    f"built once): its first run made {len(self._made)}.",
                    f"a run that creates variable {label}, which the first run did not",
                )
            )
        _in_tf1_collections(var)
        return var


def add_regularization_loss(var: Any, regularizer: Callable[[Any], Any], name: str | None = None) -> None:
    """``regularizer(var)`` into the default graph's ``REGULARIZATION_LOSSES``, as TF1 adds it."""
    with tf.name_scope(f"{name or 'weight'}/Regularizer/"):
        loss = regularizer(var)
    if loss is not None:
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES, loss)


def _in_tf1_collections(var: Any) -> None:
    """Put ``var`` in the graph's TF1 variable collections being built, as a TF1 graph has it
    (``minimize(loss)`` optimizes ``tf.compat.v1.trainable_variables()``)."""
    if tf.executing_eagerly():
        return
    inner = as_tf_variable(var)
    if inner is None:
        return
    graph = tf.compat.v1.get_default_graph()
    keys = [tf.compat.v1.GraphKeys.GLOBAL_VARIABLES]
    if inner.trainable:
        keys.append(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
    for key in keys:
        if all(v is not inner for v in graph.get_collection(key)):
            graph.add_to_collection(key, inner)
