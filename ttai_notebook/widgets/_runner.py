"""Runs a widget's long calls (network, polling) in a worker thread, or inline for plain-Python tests.

ipywidgets may be updated from any thread in ipykernel, so a worker keeps the notebook responsive while a
request runs; outside a kernel (pytest, scripts) the same code runs synchronously and deterministically.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["in_kernel", "TaskRunner", "error_text"]


def in_kernel() -> bool:
    """True when running inside a Jupyter kernel (where widgets have a live front end)."""
    try:
        from IPython import get_ipython  # noqa: PLC0415 - IPython is present wherever widgets are
    except ImportError:  # pragma: no cover - ipywidgets depends on IPython
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def error_text(exc: BaseException) -> str:
    """The words to show a user for an error: the server's own message for API errors.

    Never includes a traceback or a request's headers; ``TTAIError`` messages are already redacted.
    """
    message = getattr(exc, "message", None)
    status = getattr(exc, "status_code", None)
    if isinstance(message, str) and message:
        return f"{status}: {message}" if isinstance(status, int) else message
    text = str(exc) or type(exc).__name__
    return text


class TaskRunner:
    """Run callables one at a time, in a daemon thread (``threaded=True``) or inline.

    Parameters
    ----------
    threaded : bool or None
        ``None`` picks threads inside a Jupyter kernel and inline execution elsewhere.
    """

    def __init__(self, threaded: bool | None = None) -> None:
        self.threaded = in_kernel() if threaded is None else bool(threaded)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """True while a threaded task is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def run(
        self,
        task: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        on_finally: Callable[[], None] | None = None,
    ) -> None:
        """Call ``task()``; then ``on_done(result)`` or ``on_error(exc)``; then ``on_finally()``."""

        def body() -> None:
            try:
                try:
                    result = task()
                except Exception as exc:  # noqa: BLE001 - every failure is shown in the widget
                    on_error(exc)
                else:
                    on_done(result)
            finally:
                if on_finally is not None:
                    on_finally()

        if not self.threaded:
            body()
            return
        with self._lock:
            thread = threading.Thread(target=body, name="ttai-widget-task", daemon=True)
            self._thread = thread
        thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the running task (if any); True when nothing is left running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True
