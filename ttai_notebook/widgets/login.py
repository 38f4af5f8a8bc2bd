"""Sign in from a notebook: a masked token field that is checked with ``/test`` and then forgotten.

On success the kernel keeps a :class:`~ttai_notebook.client.Client` (reachable with :func:`current_client`,
which ``tt.connect()`` consults); the token never stays in a synced trait, so neither outputs nor saved widget
state (``metadata.widgets``) can contain it.
"""

from __future__ import annotations

import html
import threading
from typing import Any, Callable

import ipywidgets as W
import traitlets

from ._runner import TaskRunner, error_text

__all__ = ["LoginWidget", "login", "current_client", "set_current_client", "clear_current_client"]

_lock = threading.Lock()
_current: Any = None


def current_client() -> Any:
    """The client signed in with :func:`login` in this kernel, or ``None``.

    ``ttai_notebook.connect()`` returns it when set, so notebooks written with ``tt.connect()`` pick up a
    notebook sign-in without any change.
    """
    with _lock:
        return _current


def set_current_client(client: Any) -> None:
    """Make ``client`` the kernel's signed-in client (``None`` signs out)."""
    global _current
    with _lock:
        _current = client


def clear_current_client() -> None:
    """Forget the signed-in client (sign out)."""
    set_current_client(None)


class _TokenField(W.Password):
    """A password box whose value is never echoed back to the browser.

    ipywidgets 8 echoes every value a front end sends (``echo_update``); turning that off means the token
    crosses the wire exactly once, browser → kernel.
    """

    value = traitlets.Unicode("", help="The token while it is being submitted; cleared at once.").tag(
        sync=True, echo_update=False
    )


def _status_html(kind: str, text: str) -> str:
    colors = {
        "ok": "var(--jp-success-color1,#2e8540)",
        "error": "var(--jp-error-color1,#d13b3b)",
        "busy": "var(--jp-brand-color1,#1976d2)",
        "info": "var(--jp-content-font-color2,inherit)",
    }
    return f'<span style="color:{colors.get(kind, "inherit")}">{html.escape(text)}</span>'


class LoginWidget(W.VBox):
    """The sign-in form returned by :func:`login`.

    Attributes
    ----------
    signed_in : bool
        True once a token was accepted by the service (observable trait).
    status : str
        ``"signed out"``, ``"checking"``, ``"signed in"`` or ``"rejected"`` (observable trait).
    message : str
        The last message shown to the user.
    client : Client or None
        The client built from the accepted token.
    """

    signed_in = traitlets.Bool(False)
    status = traitlets.Unicode("signed out")
    message = traitlets.Unicode("")

    def __init__(
        self,
        *,
        base_url: str | None = None,
        on_success: Callable[[Any], None] | None = None,
        client_factory: Callable[[str], Any] | None = None,
        threaded: bool | None = None,
    ) -> None:
        self._base_url = base_url
        self._on_success = on_success
        self._client_factory = client_factory
        self._runner = TaskRunner(threaded)
        self.client: Any = None
        self.token_field = _TokenField(
            placeholder="Paste your API token, then press Enter",
            continuous_update=False,  # the value reaches the kernel on Enter / leaving the field, not per key
            description="API token",
            layout=W.Layout(width="420px"),
        )
        self.button = W.Button(description="Sign in", button_style="primary", icon="key")
        self.status_html = W.HTML(_status_html("info", "Not signed in."))
        intro = W.HTML(
            "<b>Sign in to Tough Tongue AI</b><br>"
            '<span style="opacity:.75">Create a token in the Tough Tongue AI app (Developer → API keys). '
            "It is checked with the service, kept only in this kernel's memory, and never saved in the "
            "notebook.</span>"
        )
        super().__init__([intro, W.HBox([self.token_field, self.button]), self.status_html])
        self.token_field.observe(self._on_value, names="value")
        self.button.on_click(self._on_click)

    def __repr__(self) -> str:
        return f"LoginWidget(status={self.status!r})"

    # ---- events -----------------------------------------------------------------------------------

    def _on_value(self, change: dict) -> None:
        token = change["new"]
        if not token:
            return
        # Forget the token in the synced trait before anything else can happen (even a failed check).
        self.token_field.value = ""
        self.submit(token)

    def _on_click(self, _button: Any) -> None:
        if self.status == "checking":
            return
        if self.token_field.value:
            self._on_value({"new": self.token_field.value})
        elif not self.signed_in:
            self._show("error", "Paste your API token into the box first, then press Enter or click Sign in.")

    # ---- the check ----------------------------------------------------------------------------------

    def submit(self, token: str) -> None:
        """Check ``token`` with the service and, if accepted, make it the kernel's client.

        Usable from code as well as from the form (the form calls it on Enter).
        """
        token = token.strip() if isinstance(token, str) else ""
        if not token:
            self._show("error", "The token is empty. Paste the whole token from the Tough Tongue AI app.")
            return
        if any(ch.isspace() for ch in token):
            self._show("error", "The token contains spaces or line breaks: paste exactly the token, nothing else.")
            return
        self.status = "checking"
        self.button.disabled = True
        self.token_field.disabled = True
        self._show("busy", "Checking the token with the service…")
        self._runner.run(lambda: self._check(token), self._done, self._failed, self._finally)

    def _check(self, token: str) -> tuple[Any, Any]:
        client = self._build_client(token)
        return client, client.test_token()

    def _build_client(self, token: str) -> Any:
        if self._client_factory is not None:
            return self._client_factory(token)
        from ..client import Client  # noqa: PLC0415 - keep `import ttai_notebook` light

        return Client(token=token, base_url=self._base_url)

    def _done(self, result: tuple[Any, Any]) -> None:
        client, check = result
        if not getattr(check, "valid", False):
            words = getattr(check, "message", None) or "the service did not accept it"
            self._show("error", f"That token was not accepted ({words}). Check that you copied all of it.",
                       status="rejected")
            _close_quietly(client)
            return
        previous = current_client()
        self.client = client
        set_current_client(client)
        if previous is not None and previous is not client:
            _close_quietly(previous)
        self.signed_in = True
        words = getattr(check, "message", None) or "token accepted"
        self._show("ok", f"Signed in ({words}). tt.connect() now returns this client.", status="signed in")
        if self._on_success is not None:
            self._on_success(client)

    def _failed(self, exc: BaseException) -> None:
        from ..errors import AuthenticationError  # noqa: PLC0415

        if isinstance(exc, AuthenticationError):
            self._show("error", f"That token was not accepted ({error_text(exc)}). Check that you copied all of it.",
                       status="rejected")
        else:
            self._show("error", f"Could not check the token: {error_text(exc)}", status="rejected")

    def _finally(self) -> None:
        self.button.disabled = False
        self.token_field.disabled = False

    def _show(self, kind: str, text: str, *, status: str | None = None) -> None:
        self.message = text
        self.status_html.value = _status_html(kind, text)
        if status is not None:
            self.status = status

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a running check finishes (threaded mode); True when idle."""
        return self._runner.join(timeout)


def _close_quietly(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - closing a discarded client must not hide the real message
            pass


def login(
    *,
    base_url: str | None = None,
    on_success: Callable[[Any], None] | None = None,
    client_factory: Callable[[str], Any] | None = None,
    threaded: bool | None = None,
) -> LoginWidget:
    """Show a sign-in form (in the spirit of ``huggingface_hub.notebook_login``).

    Parameters
    ----------
    base_url : str, optional
        API base URL for the client (default: ``TTAI_BASE_URL`` or the vendor's).
    on_success : callable, optional
        Called with the new client once the token is accepted.
    client_factory : callable, optional
        ``token -> Client``; for custom transports and tests (default: ``Client(token=token, base_url=...)``).
    threaded : bool, optional
        Check the token in a worker thread (default: yes inside a kernel, no elsewhere).

    Returns
    -------
    LoginWidget
        Display it (it is the cell's result). After sign-in, :func:`current_client` and ``tt.connect()``
        return the client.

    Examples
    --------
    >>> import ttai_notebook as tt
    >>> form = tt.widgets.login()          # doctest: +SKIP
    >>> client = tt.connect()              # the signed-in client  # doctest: +SKIP
    """
    return LoginWidget(base_url=base_url, on_success=on_success, client_factory=client_factory, threaded=threaded)
