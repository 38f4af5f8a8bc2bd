"""Find secrets in saved notebooks: API tokens and access-token embed URLs in sources, outputs and widget state.

Pure functions over a notebook's JSON (``audit_notebook``) and over text (``scan_text``); the ``ttai-notebook
audit`` command and the pre-commit hook are thin wrappers. A finding never carries the secret itself, only a
redacted form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

__all__ = [
    "Finding",
    "KINDS",
    "MIN_SECRET_LENGTH",
    "audit_notebook",
    "audit_path",
    "iter_notebook_paths",
    "looks_like_token",
    "redact_value",
    "scan_text",
]

#: Finding kinds, most specific first (an overlapping match of a later kind is dropped).
KINDS: dict[str, str] = {
    "api-token": "the API token (value of $TTAI_TOKEN)",
    "embed-access-token": "embed URL carrying a scenario access token",
    "bearer-token": "Bearer token",
    "authorization-header": "Authorization header",
    "token-assignment": "token-like value assigned to a token variable",
}

#: Known secrets shorter than this are ignored: matching a 3-character value everywhere finds nothing useful.
MIN_SECRET_LENGTH = 8

_TOKEN_CHARS = r"A-Za-z0-9._~+/=:\-"
_EMBED_TOKEN = re.compile(r"(?i)scenarioAccessToken=([^&\s'\"<>#\\]+)")
_BEARER = re.compile(rf"(?i)\bbearer\s+([{_TOKEN_CHARS}]+)")
_AUTH_HEADER = re.compile(
    rf"(?i)\bauthorization\b['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|token|basic)\s+)?([{_TOKEN_CHARS}]+)"
)
# A variable, key, keyword argument or query parameter whose name says "token", "api key" or "secret",
# followed by = or : and a value (quoted or not). ``os.environ["TTAI_TOKEN"] = "..."`` is covered by the
# optional closing quote/bracket after the name.
_ASSIGNMENT = re.compile(
    r"(?i)\b([A-Za-z_]*(?:token|api_?key|secret)[A-Za-z_]*)['\"\]]*\s*(?::|=(?!=))\s*"
    rf"(?:(['\"])([^'\"\s]+)\2|([{_TOKEN_CHARS}]+))"
)
_PLACEHOLDER_WORDS = re.compile(r"(?i)your|example|placeholder|redacted|changeme|dummy|xxxx|\*|…|\.\.\.")
_DOTTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_UPPER_SNAKE = re.compile(r"^[A-Z0-9_]+$")


@dataclass(frozen=True)
class Finding:
    """One secret found in a notebook.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS` (``"api-token"``, ``"bearer-token"``, ...).
    where : str
        Where in the notebook: ``"cell 3 source line 2"``, ``"cell 4 output 1 (text/html)"``,
        ``"metadata.widgets model 7a1f…"``.
    redacted : str
        The matched text with the secret masked (never the secret itself).
    cell : int or None
        1-based cell number, None for notebook metadata.
    path : str
        The notebook file ("" when auditing a dict).
    """

    kind: str
    where: str
    redacted: str
    cell: int | None = None
    path: str = ""

    @property
    def label(self) -> str:
        """Plain-words description of the kind."""
        return KINDS.get(self.kind, self.kind)

    def __str__(self) -> str:
        prefix = f"{self.path}:" if self.path else ""
        return f"{prefix}{self.where}: {self.label}: {self.redacted}"


def redact_value(value: str) -> str:
    """Return a masked form of a secret that still helps find it: a short prefix and its length.

    Examples
    --------
    >>> redact_value("tt_live_9f8e7d6c5b4a39281706f5e4")
    'tt_l…[32 chars]'
    >>> redact_value("short123")
    '***[8 chars]'
    """
    # Only long values show a prefix: four characters of a 32-character token do not weaken it.
    shown = value[:4] if len(value) >= 16 else ""
    return f"{shown}…[{len(value)} chars]" if shown else f"***[{len(value)} chars]"


def looks_like_token(value: str, *, min_length: int = 16, quoted: bool = True) -> bool:
    """Decide whether ``value`` looks like a real credential rather than a placeholder or a code expression.

    Parameters
    ----------
    value : str
        The candidate (what follows ``Bearer``, ``token =``, ...).
    min_length : int
        Shorter values are not tokens.
    quoted : bool
        False when the value was not in quotes (code): then a dotted name such as ``client.token_value``
        is an expression, not a secret, and a digit is required.

    Examples
    --------
    >>> looks_like_token("tt_live_9f8e7d6c5b4a39281706f5e4")
    True
    >>> looks_like_token("YOUR_API_TOKEN_HERE"), looks_like_token("<token>"), looks_like_token("abc")
    (False, False, False)
    """
    if len(value) < min_length or any(ch.isspace() for ch in value):
        return False
    if _PLACEHOLDER_WORDS.search(value) or any(ch in value for ch in "<>{}$%()[]"):
        return False
    if _UPPER_SNAKE.match(value) and not any(ch.isdigit() for ch in value):
        return False  # YOUR_TOKEN, TTAI_TOKEN: names, not values
    if len(set(value)) < 6:
        return False  # aaaaaaaaaaaaaaaa, 0000-0000-0000
    classes = sum(
        (
            any(ch.islower() for ch in value),
            any(ch.isupper() for ch in value),
            any(ch.isdigit() for ch in value),
        )
    )
    if classes < 2:
        return False
    if not quoted:
        if _DOTTED_NAME.match(value) or not any(ch.isdigit() for ch in value):
            return False
    return True


def scan_text(text: str, secrets: Iterable[str] = ()) -> list[tuple[str, int, str]]:
    """Find secrets in one piece of text.

    Parameters
    ----------
    text : str
        Any text: a cell's source, an output, a JSON dump of widget state.
    secrets : iterable of str
        Known secret values (e.g. ``$TTAI_TOKEN``); values shorter than :data:`MIN_SECRET_LENGTH` are ignored.

    Returns
    -------
    list of (kind, line, redacted)
        ``line`` is 1-based within ``text``. Overlapping matches are reported once, as the most specific kind.

    Examples
    --------
    >>> scan_text("headers = {'Authorization': 'Bearer tt_live_9f8e7d6c5b4a39281706f5e4'}")
    [('bearer-token', 1, 'Bearer tt_l…[32 chars]')]
    >>> scan_text("client = tt.Client(token=os.environ['TTAI_TOKEN'])")
    []
    """
    hits: list[tuple[int, int, str, str]] = []  # (start, end, kind, redacted)

    for secret in secrets:
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            continue
        # The same secret inside JSON text may have its quotes and backslashes escaped.
        for form in {secret, json.dumps(secret)[1:-1]}:
            start = text.find(form)
            while start != -1:
                hits.append((start, start + len(form), "api-token", redact_value(secret)))
                start = text.find(form, start + 1)

    for m in _EMBED_TOKEN.finditer(text):
        value = m.group(1)
        if value and not _PLACEHOLDER_WORDS.search(value) and not any(ch in value for ch in "<>{}$"):
            hits.append((m.start(), m.end(), "embed-access-token", f"scenarioAccessToken={redact_value(value)}"))

    for m in _BEARER.finditer(text):
        if looks_like_token(m.group(1), min_length=12):
            hits.append((m.start(), m.end(), "bearer-token", f"Bearer {redact_value(m.group(1))}"))

    for m in _AUTH_HEADER.finditer(text):
        if looks_like_token(m.group(1), min_length=12):
            hits.append((m.start(), m.end(), "authorization-header", f"Authorization: {redact_value(m.group(1))}"))

    for m in _ASSIGNMENT.finditer(text):
        quoted = m.group(3) is not None
        value = m.group(3) if quoted else m.group(4)
        if looks_like_token(value, quoted=quoted):
            hits.append((m.start(), m.end(), "token-assignment", f"{m.group(1)} = {redact_value(value)}"))

    priority = {kind: i for i, kind in enumerate(KINDS)}
    hits.sort(key=lambda h: (priority[h[2]], h[0]))
    kept: list[tuple[int, int, str, str]] = []
    for hit in hits:
        if not any(hit[0] < k[1] and k[0] < hit[1] for k in kept):
            kept.append(hit)
    kept.sort(key=lambda h: h[0])
    return [(kind, text.count("\n", 0, start) + 1, redacted) for start, _end, kind, redacted in kept]


def _text(value: Any) -> str:
    """Notebook text fields are a string or a list of strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _output_parts(output: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield (label, text) for every textual part of one output."""
    kind = output.get("output_type")
    if kind == "stream":
        yield f"({output.get('name', 'stream')})", _text(output.get("text", ""))
    elif kind == "error":
        yield "(error)", "\n".join(
            [str(output.get("ename", "")), str(output.get("evalue", "")), *map(str, output.get("traceback", []))]
        )
    data = output.get("data")
    if isinstance(data, Mapping):
        for mime, value in data.items():
            # Raster images are base64: nothing readable in them, and random base64 could look like anything.
            if mime.startswith("image/") and mime != "image/svg+xml":
                continue
            yield f"({mime})", _text(value)
    if output.get("metadata"):
        yield "(metadata)", _text(output["metadata"])


def _located(
    found: list[tuple[str, int, str]], where: str, cell: int | None, path: str, *, with_line: bool
) -> list[Finding]:
    return [
        Finding(kind=k, where=f"{where} line {line}" if with_line else where, redacted=r, cell=cell, path=path)
        for k, line, r in found
    ]


def audit_notebook(nb: Mapping[str, Any], secrets: Iterable[str] = (), *, path: str = "") -> list[Finding]:
    """Scan a notebook (its JSON as a dict) for secrets.

    Looks at every cell's source, every output (text, HTML, JSON, errors, output metadata), cell metadata,
    the saved widget state (``metadata.widgets``) and the rest of the notebook metadata.

    Parameters
    ----------
    nb : mapping
        The notebook, as loaded by ``json.load`` (nbformat 4).
    secrets : iterable of str
        Known secret values to look for verbatim, e.g. ``[os.environ["TTAI_TOKEN"]]``.
    path : str
        File name to put in the findings.

    Returns
    -------
    list of Finding
        Empty when the notebook is clean.

    Examples
    --------
    >>> nb = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [
    ...     {"output_type": "stream", "name": "stdout",
    ...      "text": "https://app.toughtongueai.com/embed/abc?scenarioAccessToken=eyJhbGciOi123"}]}],
    ...     "metadata": {}}
    >>> [str(f) for f in audit_notebook(nb)]
    ['cell 1 output 1 (stdout) line 1: embed URL carrying a scenario access token: scenarioAccessToken=***[13 chars]']
    """
    secrets = tuple(secrets)
    findings: list[Finding] = []
    cells = nb.get("cells") or []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, Mapping):
            continue
        where = f"cell {number}"
        findings += _located(
            scan_text(_text(cell.get("source", "")), secrets), f"{where} source", number, path, with_line=True
        )
        for out_no, output in enumerate(cell.get("outputs") or [], start=1):
            if not isinstance(output, Mapping):
                continue
            for label, text in _output_parts(output):
                findings += _located(
                    scan_text(text, secrets), f"{where} output {out_no} {label}", number, path, with_line=True
                )
        for name in ("metadata", "attachments"):
            if cell.get(name):
                findings += _located(
                    scan_text(_text(cell[name]), secrets), f"{where} {name}", number, path, with_line=False
                )

    metadata = dict(nb.get("metadata") or {})
    widgets = metadata.pop("widgets", None)
    if isinstance(widgets, Mapping):
        for mime, bundle in widgets.items():
            states = bundle.get("state") if isinstance(bundle, Mapping) else None
            if isinstance(states, Mapping):
                for model_id, model in states.items():
                    findings += _located(
                        scan_text(_text(model), secrets),
                        f"metadata.widgets model {str(model_id)[:8]}",
                        None,
                        path,
                        with_line=False,
                    )
            else:
                findings += _located(
                    scan_text(_text(bundle), secrets), f"metadata.widgets {mime}", None, path, with_line=False
                )
    elif widgets is not None:
        findings += _located(scan_text(_text(widgets), secrets), "metadata.widgets", None, path, with_line=False)
    if metadata:
        findings += _located(scan_text(_text(metadata), secrets), "metadata", None, path, with_line=False)
    return findings


def iter_notebook_paths(paths: Sequence[str | Path]) -> Iterator[Path]:
    """Expand files and folders into the notebooks to audit (folders: every ``*.ipynb`` below them,
    skipping checkpoints and virtualenvs)."""
    skip = {".ipynb_checkpoints", ".venv", "venv", "node_modules", ".git", "site-packages"}
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for nb_path in sorted(p.rglob("*.ipynb")):
                if not skip.intersection(nb_path.relative_to(p).parts):
                    yield nb_path
        else:
            yield p


def audit_path(path: str | Path, secrets: Iterable[str] = ()) -> list[Finding]:
    """Read one ``.ipynb`` file and audit it.

    Raises
    ------
    OSError
        The file cannot be read.
    ValueError
        The file is not a JSON notebook (the message says so).
    """
    p = Path(path)
    try:
        nb = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not a notebook (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not a notebook (not UTF-8 text)") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells", []), list):
        raise ValueError(f"{p}: not a notebook (no 'cells' list)")
    return audit_notebook(nb, secrets, path=str(path))
