"""The user's working folder of notebooks: copies of the bundled ones, never overwriting the user's changes.

An installed package keeps its notebooks in ``site-packages``, where edits would be lost on the next upgrade and
notebook 04 would write its ``output/`` into the installation. ``ttai-notebook lab`` therefore copies them to a
folder of the user's and opens that. A small manifest in the folder records the digest of each copy as written, so
a later run can tell "the user changed it" (keep it) from "an older version we wrote" (update it).

The decisions are pure functions (:func:`plan`, :func:`working_folder`, :func:`describe`) tested by tables;
:func:`sync` reads the files and applies a plan.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Literal, Mapping, Sequence

__all__ = [
    "DEFAULT_FOLDER",
    "MANIFEST",
    "Step",
    "FolderSync",
    "backup_name",
    "describe",
    "plan",
    "refresh_names",
    "sync",
    "working_folder",
]

DEFAULT_FOLDER = "ttai-notebooks"
"""Name of the working folder made in the current directory when no ``--notebooks DIR`` is given."""

MANIFEST = ".ttai-notebook.json"
"""File in the working folder recording the digest of each notebook as copied (hidden from Jupyter's browser)."""

Action = Literal["copy", "update", "same", "keep", "refresh"]


@dataclass(frozen=True)
class Step:
    """What happens to one bundled notebook in the working folder.

    Attributes
    ----------
    name
        File name, e.g. ``01_quickstart.ipynb``.
    action
        ``copy`` (not there yet), ``update`` (there, unchanged since copied, and the bundled version is newer),
        ``same`` (already identical), ``keep`` (the user changed it: left alone), ``refresh`` (the user asked for a
        fresh copy: theirs is moved aside first).
    """

    name: str
    action: Action


@dataclass(frozen=True)
class FolderSync:
    """The outcome of :func:`sync`.

    Attributes
    ----------
    folder
        The working folder.
    steps
        One :class:`Step` per bundled notebook, in name order.
    backups
        For each refreshed notebook, the name the user's copy was moved to.
    dry_run
        True when nothing was written.
    """

    folder: Path
    steps: tuple[Step, ...]
    backups: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = False


def plan(
    bundled: Mapping[str, str],
    present: Mapping[str, str],
    recorded: Mapping[str, str],
    refresh: Collection[str] = (),
) -> list[Step]:
    """Decide what to do with each bundled notebook.

    Parameters
    ----------
    bundled
        Name → digest of the notebooks shipped with the package.
    present
        Name → digest of the files already in the working folder.
    recorded
        Name → digest written by an earlier copy (the manifest); a file whose digest differs was changed by the user.
    refresh
        Names the user asked to replace with a fresh copy.

    Returns
    -------
    list of Step
        In name order. A file the user changed is never overwritten unless it is in ``refresh``.

    Examples
    --------
    >>> plan({"a.ipynb": "1"}, {}, {})
    [Step(name='a.ipynb', action='copy')]
    >>> plan({"a.ipynb": "2"}, {"a.ipynb": "9"}, {"a.ipynb": "1"})
    [Step(name='a.ipynb', action='keep')]
    """
    steps = []
    for name in sorted(bundled):
        have = present.get(name)
        if have is None:
            action: Action = "copy"
        elif have == bundled[name]:
            action = "same"
        elif name in refresh:
            action = "refresh"
        elif recorded.get(name) == have:
            action = "update"  # the user never touched our copy: an upgrade may replace it
        else:
            action = "keep"
        steps.append(Step(name, action))
    return steps


def working_folder(requested: str | Path | None, source: Path | None, *, bundled: bool, cwd: Path) -> Path | None:
    """The folder Lab opens.

    Parameters
    ----------
    requested
        ``--notebooks DIR`` (relative to ``cwd``), or None.
    source
        Where the project's notebooks are: a checkout's ``notebooks/`` or the package's bundled copy; None if neither.
    bundled
        True when ``source`` is inside the installed package (it must not be opened directly).
    cwd
        The current directory.

    Returns
    -------
    Path or None
        ``requested`` if given; a checkout's own ``notebooks/``; ``cwd`` if it already is a working folder (it holds
        the manifest); else ``cwd / "ttai-notebooks"``. None when there is no source and nothing was requested.
    """
    if requested is not None:
        return cwd / Path(requested).expanduser()
    if source is None:
        return None
    if not bundled:
        return source  # a source checkout: the curated notebooks themselves are what a developer edits
    if (cwd / MANIFEST).is_file():
        return cwd  # run again from inside the working folder: no ttai-notebooks/ttai-notebooks
    return cwd / DEFAULT_FOLDER


def refresh_names(requested: Sequence[str], bundled: Collection[str]) -> set[str]:
    """Resolve ``--refresh`` values to bundled file names (``.ipynb`` optional; ``all`` means every notebook).

    Raises
    ------
    ValueError
        A name is not one of the bundled notebooks (the message lists them).

    Examples
    --------
    >>> sorted(refresh_names(["01_quickstart"], ["01_quickstart.ipynb", "02_b.ipynb"]))
    ['01_quickstart.ipynb']
    """
    names: set[str] = set()
    for value in requested:
        if value == "all":
            names.update(bundled)
            continue
        name = value if value.endswith(".ipynb") else f"{value}.ipynb"
        name = Path(name).name  # `--refresh ttai-notebooks/01_quickstart.ipynb` names the same notebook
        if name not in bundled:
            available = ", ".join(sorted(Path(b).stem for b in bundled))
            raise ValueError(f"--refresh {value}: no such bundled notebook; choose from {available}, or all")
        names.add(name)
    return names


def backup_name(name: str, taken: Collection[str]) -> str:
    """Where a refreshed notebook's user copy goes: ``NAME.mine.ipynb``, then ``NAME.mine-2.ipynb``, ...

    Examples
    --------
    >>> backup_name("01_quickstart.ipynb", {"01_quickstart.mine.ipynb"})
    '01_quickstart.mine-2.ipynb'
    """
    stem = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
    candidate, n = f"{stem}.mine.ipynb", 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}.mine-{n}.ipynb"
    return candidate


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = data.get("files", {})
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}  # no manifest (or a damaged one): every differing file counts as the user's


def sync(
    source: Path, folder: Path, *, refresh: Collection[str] = (), version: str = "", dry_run: bool = False
) -> FolderSync:
    """Bring the working folder up to date with the notebooks in ``source`` (``*.ipynb`` only).

    Parameters
    ----------
    source
        Folder of the bundled notebooks.
    folder
        The working folder; created if missing (not in a dry run).
    refresh
        Bundled names to replace even though the user changed them; their copy is renamed, never deleted.
    version
        Package version recorded in the manifest (for the curious; decisions use digests only).
    dry_run
        Decide and report, write nothing.

    Returns
    -------
    FolderSync
    """
    bundled = {p.name: _digest(p) for p in sorted(source.glob("*.ipynb"))}
    present = {name: _digest(folder / name) for name in bundled if (folder / name).is_file()}
    recorded = _read_manifest(folder)
    steps = plan(bundled, present, recorded, refresh)
    taken = {p.name for p in folder.glob("*.ipynb")} if folder.is_dir() else set()
    backups: dict[str, str] = {}
    for step in steps:
        if step.action == "refresh":
            backups[step.name] = backup_name(step.name, taken)
            taken.add(backups[step.name])
    if dry_run:
        return FolderSync(folder, tuple(steps), backups, dry_run=True)

    folder.mkdir(parents=True, exist_ok=True)
    manifest = dict(recorded)
    for step in steps:
        if step.action == "refresh":
            (folder / step.name).rename(folder / backups[step.name])
        if step.action in ("copy", "update", "refresh"):
            shutil.copyfile(source / step.name, folder / step.name)
        if step.action != "keep":
            manifest[step.name] = bundled[step.name]
    (folder / MANIFEST).write_text(
        json.dumps({"written_by": f"ttai-notebook {version}".strip(), "files": manifest}, indent=1, sort_keys=True)
        + "\n",
        encoding="utf-8",
    )
    return FolderSync(folder, tuple(steps), backups)


def _names(steps: Sequence[Step]) -> str:
    return ", ".join(s.name for s in steps)


def describe(result: FolderSync) -> list[str]:
    """The lines ``ttai-notebook lab`` prints about the working folder (what was copied, kept, refreshed).

    Examples
    --------
    >>> r = FolderSync(Path("/w"), (Step("a.ipynb", "copy"), Step("b.ipynb", "keep")))
    >>> for line in describe(r): print(line)
    Copied 1 notebook to /w: a.ipynb
    Kept 1 notebook you changed (the bundled version differs): b.ipynb
      For a fresh copy: ttai-notebook lab --refresh b (yours is kept as b.mine.ipynb)
    """
    by: dict[str, list[Step]] = {}
    for step in result.steps:
        by.setdefault(step.action, []).append(step)
    would = result.dry_run

    def count(steps: Sequence[Step]) -> str:
        return f"{len(steps)} notebook{'s' if len(steps) != 1 else ''}"

    lines = []
    if "copy" in by:
        verb = "Would copy" if would else "Copied"
        lines.append(f"{verb} {count(by['copy'])} to {result.folder}: {_names(by['copy'])}")
        if len(by["copy"]) == len(result.steps):  # a new working folder: say what it is for
            lines.append("  This is your working folder: edit the notebooks freely; a later `ttai-notebook lab` "
                         "never overwrites one you changed.")
    if "update" in by:
        verb = "Would update" if would else "Updated"
        lines.append(f"{verb} {count(by['update'])} you had not changed to this version: {_names(by['update'])}")
    if "refresh" in by:
        verb = "Would replace" if would else "Replaced"
        for step in by["refresh"]:
            lines.append(f"{verb} {step.name} with a fresh copy; yours {'would be' if would else 'is'} kept as "
                         f"{result.backups[step.name]}")
    if "keep" in by:
        kept = by["keep"]
        lines.append(f"Kept {count(kept)} you changed (the bundled version differs): {_names(kept)}")
        first = kept[0].name[: -len(".ipynb")]
        lines.append(f"  For a fresh copy: ttai-notebook lab --refresh {first} (yours is kept as {first}.mine.ipynb)")
    if not lines:
        lines.append(f"Your notebooks in {result.folder} are up to date.")
    return lines
