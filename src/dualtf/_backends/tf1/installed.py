"""What dualtf puts into TensorFlow while it is needed, and takes out after: one counted install each.

dualtf replaces a few TensorFlow functions so that TF1 code runs unchanged in every mode
(``tf.compat.v1.train.Optimizer.compute_gradients`` in eager steps, the generated random ops
under ``deterministic_random``, ``tf.compat.v1.layers`` with Keras 3). Each replacement is an
:class:`Installed`: the first user in installs it, the last one out puts back what was there,
in any thread, so nothing is left in the process when no backend needs it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

__all__ = ["Installed"]


class Installed:
    """A replacement that ``install()`` puts in (returning what takes it out), held by a count of users.

    >>> calls = []
    >>> patch = Installed(lambda: (calls.append("in"), lambda: calls.append("out"))[1])
    >>> with patch.held(), patch.held():
    ...     calls
    ['in']
    >>> calls
    ['in', 'out']
    """

    def __init__(self, install: Callable[[], Callable[[], None]]):
        self._install = install
        self._lock = threading.Lock()
        self._users = 0
        self._uninstall: Callable[[], None] | None = None

    def acquire(self) -> None:
        with self._lock:
            if not self._users:
                self._uninstall = self._install()
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if not self._users and self._uninstall is not None:
                uninstall, self._uninstall = self._uninstall, None
                uninstall()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
