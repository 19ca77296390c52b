"""``be.keras(model)``: Keras ``fit``, ``evaluate`` and ``predict`` that follow the backend's mode.

eager, function and xla run Keras' own loop with ``run_eagerly`` / ``jit_compile``
set for the mode (and the model's own settings put back after). Graph mode's runner
lives with graph mode (``graph_keras.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

__all__ = ["KerasLoop", "ModelRunner"]

_FUNCTIONS = ("train_function", "test_function", "predict_function")


class ModelRunner:
    """What ``be.keras(model)`` returns: ``fit``, ``evaluate`` and ``predict`` in the backend's mode."""

    def fit(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        """``model.fit(x, y, **kwargs)`` in this mode; returns Keras' ``History``."""
        raise NotImplementedError

    def evaluate(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        """``model.evaluate(x, y, **kwargs)`` in this mode."""
        raise NotImplementedError

    def predict(self, x: Any, **kwargs: Any) -> Any:
        """``model.predict(x, **kwargs)`` in this mode."""
        raise NotImplementedError


class KerasLoop(ModelRunner):
    """Keras' own loop, with the model compiled as the mode says."""

    def __init__(
        self,
        model: Any,
        *,
        run_eagerly: bool,
        jit_compile: bool,
        held: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
    ):
        self.model = model
        self._settings = {"run_eagerly": run_eagerly, "jit_compile": jit_compile}
        self._held = held  # what dualtf holds while Keras' loop runs its steps (deterministic random)

    @contextmanager
    def _mode(self) -> Iterator[None]:
        saved = {name: getattr(self.model, name) for name in self._settings}
        for name in _FUNCTIONS:  # Keras caches its compiled loop functions: rebuild them for this mode
            setattr(self.model, name, None)
        try:
            for name, value in self._settings.items():
                setattr(self.model, name, value)
            with self._held("keras"):
                yield
        finally:
            for name, value in saved.items():
                setattr(self.model, name, value)
            for name in _FUNCTIONS:
                setattr(self.model, name, None)

    def fit(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        with self._mode():
            return self.model.fit(x, y, **kwargs)

    def evaluate(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        with self._mode():
            return self.model.evaluate(x, y, **kwargs)

    def predict(self, x: Any, **kwargs: Any) -> Any:
        with self._mode():
            return self.model.predict(x, **kwargs)
