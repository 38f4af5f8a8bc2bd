"""The ``ttai-notebook`` command: ``lab`` (JupyterLab on the notebooks), ``sandbox`` (serve the offline API),
``report`` (render the team report to standalone HTML), ``audit`` (find API tokens in saved notebooks) and
``verify`` (a live check of the service a token reaches).

Heavy imports (nbclient, nbconvert, the sandbox) happen inside the sub-command that needs them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

__all__ = [
    "main",
    "build_parser",
    "chart_alt_texts",
    "find_notebooks_dir",
    "inject_parameters",
    "parameters_source",
    "report_parameters",
]

REPORT_NOTEBOOK = "05_team_report.ipynb"
ENV_TOKEN = "TTAI_TOKEN"

EPILOG_MAIN = """\
examples:
  ttai-notebook lab                         open the notebooks in JupyterLab (offline sandbox unless TTAI_TOKEN is set)
  ttai-notebook sandbox --port 8765         serve the offline API on http://127.0.0.1:8765/api/public
  ttai-notebook report --team North -o north.html
  ttai-notebook audit notebooks/            fail if a saved notebook holds an API token
  ttai-notebook verify                      check the live service with $TTAI_TOKEN (read-only, free)

Run `ttai-notebook COMMAND --help` for the options of each command.
"""

EPILOG_LAB = """\
examples:
  ttai-notebook lab
  ttai-notebook lab --sandbox               use the offline sandbox even if TTAI_TOKEN is set
  ttai-notebook lab --port 9999 --no-browser
                                            options it does not know go to `jupyter lab` unchanged
  ttai-notebook lab --notebooks ~/my-notebooks
                                            copy the notebooks there (only missing or untouched ones) and open it
  ttai-notebook lab --refresh 04_score_analysis
                                            a fresh copy of notebook 04; yours is renamed 04_score_analysis.mine.ipynb
  ttai-notebook lab --dry-run               say what it would copy and the jupyter command it would run
"""

EPILOG_SANDBOX = """\
examples:
  ttai-notebook sandbox                     http://127.0.0.1:8765/api/public, demo organisation, seed 0
  ttai-notebook sandbox --port 0            pick a free port (printed)
  ttai-notebook sandbox --sessions 20000 --dialect spec --latency 0.05
  ttai-notebook sandbox --token s3cret      require `Authorization: Bearer s3cret`

Other options of `python -m ttai_notebook.sandbox` pass through unchanged: --profile (current or brief),
--processing-time, --jitter, --rate-429, --retry-after, --rate-5xx, --rate-drop, --concurrency-cap,
--read-only-token, --spec-routes-only, --clock.

Point a client at it:  tt.Client(token="sandbox", base_url="http://127.0.0.1:8765/api/public")
Stop it with Ctrl+C. It listens on 127.0.0.1 only.
"""

EPILOG_REPORT = """\
examples:
  ttai-notebook report -o report.html                       every team, all dates, pass mark 70
  ttai-notebook report --team North --team South --since 2026-02-01 --until 2026-03-31 -o q1.html
  ttai-notebook report --threshold 80 --sandbox -o demo.html

The report runs notebooks/05_team_report.ipynb with these values injected after its `parameters` cell
(the papermill convention), against the real service when TTAI_TOKEN is set, else the offline sandbox.
"""

EPILOG_AUDIT = """\
examples:
  ttai-notebook audit notebooks/            every *.ipynb below the folder
  ttai-notebook audit a.ipynb b.ipynb       as a pre-commit hook passes them

Looks in cell sources, outputs and saved widget state for the value of $TTAI_TOKEN, `Bearer <token>`,
`Authorization:` headers, token-looking values assigned to token variables, and embed URLs carrying
`scenarioAccessToken=`. Exit status: 0 clean, 1 secrets found, 2 a file could not be read.
Secrets are never printed, only a redacted form.
"""

EPILOG_VERIFY = """\
examples:
  ttai-notebook verify                      read-only and free: token, balance, organisations, scenarios,
                                            one page of sessions, a batch get, the v1 list, model fields
  ttai-notebook verify --org northwind      scoped to an organisation (id, slug or name)
  ttai-notebook verify --write              also create and delete one private scratch scenario
  ttai-notebook verify --spend 2            also analyse 2 completed sessions: CHARGED, asks first
  ttai-notebook verify --snapshot live.json keys and value types of every answer (no values, no token)
  ttai-notebook verify --compare tests/fixtures/shapes/sandbox-current-spec.json
  TTAI_TOKEN=s3cret ttai-notebook verify --base-url http://127.0.0.1:8765/api/public
                                            against `ttai-notebook sandbox --token s3cret`

The token comes from $TTAI_TOKEN (or the variable named by --token-env), never from the command line.
Exit status: 0 when no check failed (warnings allowed), 1 when one did or the run could not start.
"""


class CLIError(Exception):
    """A failure to report in one line, without a traceback (exit status 1)."""


# --------------------------------------------------------------------------------------------------------------
# Pure helpers


def find_notebooks_dir(start: Path | None = None) -> Path | None:
    """Locate the folder holding the project's notebooks.

    Looks next to the package in a source checkout (``<checkout>/notebooks`` beside ``pyproject.toml``), then
    inside the installed package (``ttai_notebook/_notebooks``, which the wheel ships).

    Returns
    -------
    Path or None
        The folder, or None when neither exists.
    """
    package_dir = start or Path(__file__).resolve().parent
    checkout = package_dir.parent / "notebooks"
    # pyproject.toml tells a checkout from a site-packages that merely has some other distribution's notebooks/.
    if checkout.is_dir() and (package_dir.parent / "pyproject.toml").is_file():
        return checkout
    bundled = package_dir / "_notebooks"
    return bundled if bundled.is_dir() else None


def _iso_date(text: str) -> str:
    """argparse type: a calendar date ``YYYY-MM-DD`` (returned unchanged)."""
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-03-01") from None
    return text


def _threshold(text: str) -> float:
    """argparse type: a pass mark between 0 and 100."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use a pass mark from 0 to 100") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is outside 0–100; the pass mark is a score from 0 to 100")
    return int(value) if value.is_integer() else value


def report_parameters(
    teams: Sequence[str] | None, since: str | None, until: str | None, threshold: float
) -> dict[str, Any]:
    """Check and assemble the report parameters (names as in the notebook's ``parameters`` cell).

    Raises
    ------
    ValueError
        ``since`` is after ``until``, or a team name is empty.

    Examples
    --------
    >>> report_parameters(["North"], "2026-01-01", None, 70)
    {'teams': ['North'], 'since': '2026-01-01', 'until': None, 'threshold': 70}
    """
    teams = [t.strip() for t in (teams or [])]
    if any(not t for t in teams):
        raise ValueError("--team needs a team name (got an empty one)")
    if since and until and dt.date.fromisoformat(since) > dt.date.fromisoformat(until):
        raise ValueError(f"--since {since} is after --until {until}; the date range would be empty")
    return {"teams": teams, "since": since, "until": until, "threshold": threshold}


def parameters_source(params: Mapping[str, Any]) -> str:
    """The source of the injected parameters cell: one ``name = repr(value)`` line per parameter.

    Examples
    --------
    >>> print(parameters_source({"teams": ["North"], "threshold": 70}))
    # Parameters injected by `ttai-notebook report`
    teams = ['North']
    threshold = 70
    """
    lines = ["# Parameters injected by `ttai-notebook report`"]
    lines += [f"{name} = {value!r}" for name, value in params.items()]
    return "\n".join(lines)


def inject_parameters(nb: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``nb`` with a cell tagged ``injected-parameters`` right after the one tagged ``parameters``.

    A previously injected cell is replaced, so injecting twice is the same as injecting once.

    Raises
    ------
    ValueError
        The notebook has no cell tagged ``parameters``.
    """
    nb = json.loads(json.dumps(nb))  # deep copy; notebooks are JSON
    cells = [c for c in nb["cells"] if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for index, cell in enumerate(cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            break
    else:
        raise ValueError("the report notebook has no cell tagged 'parameters' to inject the options after")
    injected = {
        "cell_type": "code",
        "execution_count": None,
        "id": "injected-parameters",
        "metadata": {"tags": ["injected-parameters"]},
        "outputs": [],
        "source": parameters_source(params),
    }
    cells.insert(index + 1, injected)
    nb["cells"] = cells
    return nb


def _using(env: Mapping[str, str]) -> str:
    if env.get(ENV_TOKEN):
        return "the real Tough Tongue AI service (TTAI_TOKEN is set)"
    return "the offline sandbox (TTAI_TOKEN is not set; no network, demo organisation)"


# --------------------------------------------------------------------------------------------------------------
# lab


def _cmd_lab(args: argparse.Namespace, extra: list[str]) -> int:
    from . import __version__
    from ._workfolder import describe, refresh_names, sync, working_folder

    source = find_notebooks_dir()
    bundled = source is not None and source.name == "_notebooks"  # inside the installed package
    folder = working_folder(args.notebooks, source, bundled=bundled, cwd=Path.cwd())
    if folder is None:
        raise CLIError(
            "cannot find the notebooks folder next to the package (a source checkout has notebooks/ beside "
            "ttai_notebook/); pass --notebooks DIR"
        )
    if importlib.util.find_spec("jupyterlab") is None:
        raise CLIError("JupyterLab is not installed; install it with: pip install 'ttai-notebook[lab]'")
    copies = source if source is not None and folder.resolve() != source.resolve() else None
    if args.refresh and copies is None:
        raise CLIError(
            f"--refresh replaces notebooks in a working folder copied from the package; {folder} is the "
            "project's own notebooks folder (restore a file there with git instead)"
        )
    if copies is not None:
        try:
            refresh = refresh_names(args.refresh or [], [p.name for p in copies.glob("*.ipynb")])
            result = sync(copies, folder, refresh=refresh, version=__version__, dry_run=args.dry_run)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        except OSError as exc:
            raise CLIError(f"cannot prepare the notebooks folder {folder}: {exc.strerror or exc}") from None
        for line in describe(result):
            print(line, file=sys.stderr)
    elif not folder.is_dir():
        raise CLIError(f"no such folder: {folder}; pass --notebooks DIR with an existing folder")

    env = dict(os.environ)
    if args.sandbox:
        env.pop(ENV_TOKEN, None)
    start = folder / "01_quickstart.ipynb"
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={folder}"]
    if start.is_file() or (copies is not None and (copies / start.name).is_file()):  # (a dry run copies nothing)
        # Land on the first notebook; a later --LabApp.default_url in `extra` still wins.
        cmd.append(f"--LabApp.default_url=/lab/tree/{start.name}")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        # Containers and CI often run as root, where Jupyter refuses to start without this flag.
        cmd.append("--allow-root")
    cmd += extra
    print(f"Notebooks in {folder}; they will use {_using(env)}.", file=sys.stderr)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130


# --------------------------------------------------------------------------------------------------------------
# sandbox


def _cmd_sandbox(args: argparse.Namespace, extra: list[str]) -> int:
    argv = ["--port", str(args.port), "--seed", str(args.seed)]
    if args.sessions is not None:
        argv += ["--sessions", str(args.sessions)]
    if args.dialect:
        argv += ["--dialect", args.dialect]
    if args.latency:
        argv += ["--latency", str(args.latency)]
    if args.token:
        argv += ["--token", args.token]
    argv += extra
    try:
        from .sandbox import __main__ as sandbox_main  # the sandbox package owns its server and options
    except ImportError as exc:
        raise CLIError(f"the sandbox server is not available ({exc})") from None
    runner: Callable[..., Any] | None = getattr(sandbox_main, "main", None)
    if runner is None:
        raise CLIError("ttai_notebook.sandbox.__main__ has no main(argv) to run")
    try:
        result = runner(argv)  # it stops on Ctrl+C and on SIGTERM, closing the server
    except KeyboardInterrupt:  # Ctrl+C while the demo organisation is still being built
        return 0
    return int(result or 0)


# --------------------------------------------------------------------------------------------------------------
# report


def _execute_report(
    nb: dict[str, Any], *, env: dict[str, str], timeout: int, progress: bool
) -> dict[str, Any]:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    node = nbformat.from_dict(nb)
    bar = None
    if progress:
        from tqdm import tqdm

        cells = sum(c.cell_type == "code" for c in node.cells)
        bar = tqdm(total=cells, desc="report", unit="cell", file=sys.stderr, leave=False)
    current = {"index": 0}

    def on_start(cell: Any, cell_index: int) -> None:
        current["index"] = cell_index

    def on_complete(cell: Any, cell_index: int) -> None:
        if bar is not None and cell.cell_type == "code":
            bar.update(1)

    with tempfile.TemporaryDirectory(prefix="ttai-report-") as workdir:
        client = NotebookClient(
            node,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": workdir}},  # the kernel's cwd: nothing lands in the checkout
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not the kernel's start-up chatter
            on_cell_start=on_start,
            on_cell_complete=on_complete,
        )
        try:
            client.execute(env=env)
        except CellExecutionError as exc:
            raise CLIError(
                f"the report failed in {_cell_name(node, current['index'])}: {exc.ename}: {exc.evalue}".rstrip(": ")
            ) from None
        except CellTimeoutError:
            raise CLIError(
                f"{_cell_name(node, current['index'])} ran longer than --timeout {timeout} s"
            ) from None
        except DeadKernelError as exc:
            raise CLIError(f"the Python kernel died while running the report ({exc})") from None
        except Exception as exc:  # the kernel could not start, a broken install, ...: one clear line
            raise CLIError(f"could not run the report notebook: {type(exc).__name__}: {exc}") from None
        finally:
            if bar is not None:
                bar.close()
    return node


def _cell_name(nb: Mapping[str, Any], index: int) -> str:
    """A cell as the user sees it in Jupyter: its 1-based position, the injected cell not counted."""
    cells = nb["cells"]
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    if index in injected:
        return "the injected parameters cell"
    position = index + 1 - sum(1 for i in injected if i < index)
    source = cells[index].get("source", "") if 0 <= index < len(cells) else ""
    first = ("".join(source) if isinstance(source, list) else source).strip().splitlines()[:1]
    return f"cell {position}" + (f" ({first[0][:60]!r})" if first else "")


def chart_alt_texts(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    """Alt text for each PNG output, in document order: the nearest heading above it.

    Examples
    --------
    >>> cells = [{"cell_type": "markdown", "source": "## Scores by team\\nWhy it matters"},
    ...          {"cell_type": "code", "outputs": [{"data": {"image/png": "..."}}]}]
    >>> chart_alt_texts(cells)
    ['Chart: Scores by team']
    """
    heading = "chart"
    alts: list[str] = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            for line in source.splitlines():
                if line.lstrip().startswith("#"):
                    heading = line.strip().lstrip("#").strip() or heading
        for output in cell.get("outputs") or []:
            if "image/png" in (output.get("data") or {}):
                alts.append(f"Chart: {heading}")
    return alts


_IMG_PNG = re.compile(r'<img alt="[^"]*"([^>]*?) src="(data:image/png;base64,[^"]*)"')


def _to_html(node: Any, title: str) -> tuple[str, int]:
    import html as html_lib

    from nbconvert import HTMLExporter

    node.metadata.pop("widgets", None)  # a report is a document: no live widget state
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True, exclude_anchor_links=True
    )
    body, _resources = exporter.from_notebook_node(node, resources={"metadata": {"name": title}})
    alts = iter(chart_alt_texts(node.cells))

    # The exporter adds a generic alt text and sorts attributes; give each chart its section's name, src first.
    def fix(m: re.Match[str]) -> str:
        alt = html_lib.escape(next(alts, "Chart"), quote=True)
        return f'<img src="{m.group(2)}" alt="{alt}"{m.group(1)}'

    body, charts = _IMG_PNG.subn(fix, body)
    return body, charts


def _cmd_report(args: argparse.Namespace, extra: list[str]) -> int:
    try:
        params = report_parameters(args.team, args.since, args.until, args.threshold)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.notebook:
        path = Path(args.notebook)
    else:
        folder = find_notebooks_dir()
        if folder is None:
            raise CLIError(f"cannot find {REPORT_NOTEBOOK} next to the package; pass --notebook PATH")
        path = folder / REPORT_NOTEBOOK
    if not path.is_file():
        raise CLIError(f"no such notebook: {path}")
    for module in ("nbclient", "nbconvert", "ipykernel"):
        if importlib.util.find_spec(module) is None:
            raise CLIError(f"{module} is not installed; install it with: pip install 'ttai-notebook[lab]'")

    import nbformat

    try:
        # nbformat joins multi-line sources (saved as lists of lines) and upgrades old notebooks.
        nb = inject_parameters(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4), params)
    except (ValueError, KeyError, nbformat.reader.NotJSONError) as exc:
        raise CLIError(f"{path} is not a usable notebook: {exc}") from None

    env = dict(os.environ)
    if args.sandbox:
        env.pop(ENV_TOKEN, None)
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    scope = ", ".join(params["teams"]) or "all teams"
    span = f"{params['since'] or 'start'} → {params['until'] or 'now'}"
    print(f"Report: {scope}, {span}, pass mark {params['threshold']}; using {_using(env)}.", file=sys.stderr)

    started = time.perf_counter()
    node = _execute_report(nb, env=env, timeout=args.timeout, progress=not args.quiet)
    title = f"Team report — {scope}"
    body, charts = _to_html(node, title)
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body, encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc.strerror or exc}") from None
    took = time.perf_counter() - started
    print(f"Wrote {out} ({len(body) // 1024} KiB, {charts} charts) in {took:.1f} s.", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------------------------
# audit


def _cmd_audit(args: argparse.Namespace, extra: list[str]) -> int:
    from .audit import MIN_SECRET_LENGTH, audit_path, iter_notebook_paths

    secrets: list[str] = []
    token = os.environ.get(ENV_TOKEN, "")
    if token and not args.no_env:
        if len(token) < MIN_SECRET_LENGTH:
            print(
                f"note: $TTAI_TOKEN is shorter than {MIN_SECRET_LENGTH} characters; not searched for verbatim",
                file=sys.stderr,
            )
        else:
            secrets.append(token)

    status = 0
    checked = found = 0
    for path in iter_notebook_paths(args.paths):
        try:
            findings = audit_path(path, secrets)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"{path}: cannot audit: {reason}", file=sys.stderr)
            status = max(status, 2)
            continue
        checked += 1
        for finding in findings:
            print(finding)
        if findings:
            found += len(findings)
            status = max(status, 1)
    if not args.quiet:
        if found:
            print(
                f"{found} secret(s) in {checked} notebook(s). Remove them (clear the outputs, e.g. "
                "`jupyter nbconvert --clear-output --inplace`, and never paste a token into a cell), "
                "then revoke any token that was committed.",
                file=sys.stderr,
            )
        elif checked:
            print(f"{checked} notebook(s) checked: no secrets found.", file=sys.stderr)
    if checked == 0 and status == 0:
        print("no notebooks to audit (pass .ipynb files or folders)", file=sys.stderr)
    return status


# --------------------------------------------------------------------------------------------------------------
# verify


def _confirm_on_terminal(assume_yes: bool) -> Callable[[str], bool]:
    def confirm(statement: str) -> bool:
        print(statement, file=sys.stderr)
        if assume_yes:
            print("--yes given: going ahead.", file=sys.stderr)
            return True
        try:
            answer = input("Go ahead and pay for it? [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _cmd_verify(args: argparse.Namespace, extra: list[str]) -> int:
    from .errors import TTAIError, redact
    from .verify import load_snapshot, spend_decision, verify, write_snapshot

    token = os.environ.get(args.token_env, "").strip()
    if not token:
        raise CLIError(
            f"no token: set ${args.token_env} to your Tough Tongue AI API token (verify checks a live service; "
            "to try it offline run `ttai-notebook sandbox --token T` and pass --base-url)"
        )
    decision = spend_decision(args.spend, assume_yes=args.yes, interactive=sys.stdin.isatty())
    if decision == "refuse":
        raise CLIError(
            f"--spend {args.spend} analyses {args.spend} session(s), which the service charges; stdin is not a "
            "terminal, so nobody can confirm the cost. Run it in a terminal, or add --yes to accept it."
        )
    baseline = None
    if args.compare:
        try:
            baseline = load_snapshot(args.compare)
        except (OSError, ValueError) as exc:
            raise CLIError(f"--compare: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}") from None
    try:
        report = verify(
            token=token,
            base_url=args.base_url,
            org=args.org,
            write=args.write,
            spend=args.spend,
            confirm=_confirm_on_terminal(args.yes),
            compare=baseline,
            page=args.page,
        )
    except KeyboardInterrupt:
        print("verify interrupted; nothing more is sent.", file=sys.stderr)
        return 130
    except (TTAIError, ValueError) as exc:
        raise CLIError(redact(str(exc), _masked(token))) from None
    print(f"ttai-notebook verify: {report.target}" + (" (the offline sandbox)" if report.snapshot.get("sandbox") else ""))
    print()
    # Wrapped to the terminal; one row per line when piped (easy to grep, paste or diff).
    width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else None
    print(report.table(width))
    if report.differences:
        print()
        print(f"Differences from {args.compare}:")
        for difference in report.differences:
            print(f"  {redact(str(difference), _masked(token))}")
    counts = {r: sum(c.result == r for c in report.checks) for r in ("ok", "warn", "fail", "skipped")}
    print()
    print(", ".join(f"{n} {r}" for r, n in counts.items()))
    if args.snapshot:
        try:
            path = write_snapshot(report.snapshot, args.snapshot)
        except OSError as exc:
            raise CLIError(f"cannot write {args.snapshot}: {exc.strerror or exc}") from None
        print(f"Wrote the shape snapshot {path} (keys and value types only: no values, no token).", file=sys.stderr)
    return report.exit_code


def _masked(token: str) -> tuple[str, ...]:
    """The token to mask in printed text; a test token of a few characters is not (it would garble the words)."""
    from .verify import MIN_SECRET

    return (token,) if len(token) >= MIN_SECRET else ()


def _count(text: str) -> int:
    """argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; use 0 or more")
    return value


def _page(text: str) -> int:
    """argparse type: sessions per page, 1–500."""
    value = _count(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"{value} is outside 1–500")
    return value


# --------------------------------------------------------------------------------------------------------------
# parser and entry point


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ttai-notebook`` (one sub-parser per command)."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="ttai-notebook",
        description="The Tough Tongue AI API in Jupyter: notebooks, an offline sandbox, reports, a secrets audit, "
        "a live check.",
        epilog=EPILOG_MAIN,
        formatter_class=formatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lab = sub.add_parser(
        "lab",
        help="open JupyterLab on the notebooks",
        description="Open JupyterLab on the project's notebooks. Installed from a wheel, the bundled notebooks are "
        "first copied to a working folder of yours (./ttai-notebooks by default); a notebook you changed is never "
        "overwritten. They use the offline sandbox unless TTAI_TOKEN is set. Options not listed here are passed to "
        "`jupyter lab`.",
        epilog=EPILOG_LAB,
        formatter_class=formatter,
    )
    lab.add_argument("--notebooks", metavar="DIR", help="your working folder: the notebooks are copied there "
                     "(default: ./ttai-notebooks; in a source checkout, its notebooks/ folder itself)")
    lab.add_argument("--refresh", action="append", metavar="NAME", help="replace your copy of notebook NAME "
                     "(e.g. 01_quickstart, or all) with the bundled one; yours is renamed NAME.mine.ipynb")
    lab.add_argument("--sandbox", action="store_true", help="hide TTAI_TOKEN from the notebooks: offline sandbox")
    lab.add_argument("--dry-run", action="store_true", help="say what would be copied and print the jupyter "
                     "command, without doing either")
    lab.set_defaults(handler=_cmd_lab, passthrough=True)

    sandbox = sub.add_parser(
        "sandbox",
        help="serve the offline API on 127.0.0.1",
        description="Serve the stateful offline twin of the Tough Tongue AI API over HTTP on 127.0.0.1, "
        "with the demo organisation.",
        epilog=EPILOG_SANDBOX,
        formatter_class=formatter,
    )
    sandbox.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1; 0 = any free port "
                         "(default: %(default)s)")
    sandbox.add_argument("--seed", type=int, default=0, help="seed of the demo organisation (default: %(default)s)")
    sandbox.add_argument("--sessions", type=int, metavar="N", help="number of demo sessions (a few hundred by "
                         "default; up to 100000 for benchmarks)")
    sandbox.add_argument("--dialect", choices=("documented", "spec"), help="response shapes: the product "
                         "brief's (documented, default) or the vendor OpenAPI spec's")
    sandbox.add_argument("--latency", type=float, metavar="SECONDS", help="added delay per request")
    sandbox.add_argument("--token", help="token the server requires (default: any non-empty token)")
    sandbox.set_defaults(handler=_cmd_sandbox, passthrough=True)

    report = sub.add_parser(
        "report",
        help="render the team report notebook to standalone HTML",
        description="Execute notebooks/05_team_report.ipynb with the given parameters and write a standalone "
        "HTML document (charts embedded, code hidden).",
        epilog=EPILOG_REPORT,
        formatter_class=formatter,
    )
    report.add_argument("--team", action="append", metavar="NAME", help="team to report on (repeat for several; "
                        "default: every team)")
    report.add_argument("--since", type=_iso_date, metavar="YYYY-MM-DD", help="first day included")
    report.add_argument("--until", type=_iso_date, metavar="YYYY-MM-DD", help="last day included")
    report.add_argument("--threshold", type=_threshold, default=70, metavar="SCORE",
                        help="pass mark, 0–100 (default: %(default)s)")
    report.add_argument("-o", "--output", default="report.html", metavar="FILE",
                        help="HTML file to write (default: %(default)s)")
    report.add_argument("--sandbox", action="store_true", help="use the offline sandbox even if TTAI_TOKEN is set")
    report.add_argument("--notebook", metavar="PATH", help="report notebook to run (default: 05_team_report)")
    report.add_argument("--timeout", type=int, default=600, metavar="SECONDS",
                        help="longest a single cell may run (default: %(default)s)")
    report.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    report.set_defaults(handler=_cmd_report, passthrough=False)

    audit = sub.add_parser(
        "audit",
        help="find API tokens in saved notebooks",
        description="Scan notebooks (sources, outputs, saved widget state) for API tokens and access-token "
        "embed URLs. Usable as a pre-commit hook.",
        epilog=EPILOG_AUDIT,
        formatter_class=formatter,
    )
    audit.add_argument("paths", nargs="+", metavar="PATH", help="notebook files or folders")
    audit.add_argument("--no-env", action="store_true", help="do not search for the value of $TTAI_TOKEN")
    audit.add_argument("-q", "--quiet", action="store_true", help="print findings only, no summary")
    audit.set_defaults(handler=_cmd_audit, passthrough=False)

    check = sub.add_parser(
        "verify",
        help="check the live service with your token (read-only and free by default)",
        description="Check the service your token reaches the way this toolkit uses it, and print a table "
        "(check, result, detail). Read-only and free unless --write or --spend is given.",
        epilog=EPILOG_VERIFY,
        formatter_class=formatter,
    )
    check.add_argument("--org", metavar="X", help="organisation to scope to: id, slug or name")
    check.add_argument("--write", action="store_true", help="also create and delete one private scratch scenario")
    check.add_argument("--spend", type=_count, default=0, metavar="N",
                       help="also analyse N completed, not-yet-analysed sessions (charged; asks first)")
    check.add_argument("--yes", action="store_true", help="accept the cost of --spend without asking")
    check.add_argument("--snapshot", metavar="FILE", help="write the shape snapshot (keys and types only) here")
    check.add_argument("--compare", metavar="FILE", help="compare the answers with this shape snapshot")
    check.add_argument("--base-url", metavar="URL", help="API base URL (default: $TTAI_BASE_URL, else the "
                       "live service)")
    check.add_argument("--token-env", default=ENV_TOKEN, metavar="NAME",
                       help="environment variable holding the token (default: %(default)s)")
    check.add_argument("--page", type=_page, default=20, metavar="N",
                       help="sessions to list, 1–500 (default: %(default)s)")
    check.set_defaults(handler=_cmd_verify, passthrough=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ttai-notebook``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if extra and extra[0] == "--":
        extra = extra[1:]
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(args, extra))
    except CLIError as exc:
        print(f"ttai-notebook {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
