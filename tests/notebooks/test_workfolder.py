"""The working folder's decisions, by table: what to copy, update, keep or refresh, and where the folder is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttai_notebook._workfolder import (
    DEFAULT_FOLDER,
    MANIFEST,
    FolderSync,
    Step,
    backup_name,
    describe,
    plan,
    refresh_names,
    sync,
    working_folder,
)


@pytest.mark.parametrize(
    ("bundled", "present", "recorded", "refresh", "expected"),
    [
        # not there yet → copy
        ("v1", None, None, False, "copy"),
        # identical → nothing to do, whatever the manifest says
        ("v1", "v1", None, False, "same"),
        ("v2", "v2", "v1", False, "same"),
        # our earlier copy, untouched, and the package has a newer one → update
        ("v2", "v1", "v1", False, "update"),
        # the user changed our copy → keep, even when the package has a newer one
        ("v2", "mine", "v1", False, "keep"),
        ("v1", "mine", "v1", False, "keep"),
        # no record (no or damaged manifest, or a folder of the user's) → a differing file is theirs
        ("v1", "old", None, False, "keep"),
        # asked for a fresh copy → refresh (theirs is moved aside)
        ("v2", "mine", "v1", True, "refresh"),
        ("v1", "v1", "v1", True, "same"),
    ],
)
def test_plan_table(bundled, present, recorded, refresh, expected) -> None:
    steps = plan(
        {"a.ipynb": bundled},
        {} if present is None else {"a.ipynb": present},
        {} if recorded is None else {"a.ipynb": recorded},
        {"a.ipynb"} if refresh else set(),
    )
    assert steps == [Step("a.ipynb", expected)]


def test_plan_is_in_name_order_and_ignores_the_users_other_files() -> None:
    steps = plan({"b.ipynb": "1", "a.ipynb": "1"}, {"mine.ipynb": "x", "a.ipynb": "1"}, {})
    assert steps == [Step("a.ipynb", "same"), Step("b.ipynb", "copy")]


@pytest.mark.parametrize(
    ("requested", "source", "bundled", "manifest_in_cwd", "expected"),
    [
        (None, "site/_notebooks", True, False, f"home/{DEFAULT_FOLDER}"),
        (None, "site/_notebooks", True, True, "home"),
        ("work", "site/_notebooks", True, False, "home/work"),
        ("/abs/work", "site/_notebooks", True, False, "/abs/work"),
        (None, "checkout/notebooks", False, False, "checkout/notebooks"),
        ("work", "checkout/notebooks", False, False, "home/work"),
        ("work", None, False, False, "home/work"),
        (None, None, False, False, None),
    ],
)
def test_working_folder_table(tmp_path, requested, source, bundled, manifest_in_cwd, expected) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if manifest_in_cwd:
        (home / MANIFEST).write_text("{}")
    src = tmp_path / source if source else None
    got = working_folder(requested, src, bundled=bundled, cwd=home)
    if expected is None:
        assert got is None
    else:
        assert got == (Path(expected) if expected.startswith("/") else tmp_path / expected)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (["01_quickstart"], {"01_quickstart.ipynb"}),
        (["01_quickstart.ipynb", "ttai-notebooks/02_b.ipynb"], {"01_quickstart.ipynb", "02_b.ipynb"}),
        (["all"], {"01_quickstart.ipynb", "02_b.ipynb"}),
        ([], set()),
    ],
)
def test_refresh_names_table(requested, expected) -> None:
    assert refresh_names(requested, ["01_quickstart.ipynb", "02_b.ipynb"]) == expected


def test_refresh_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="choose from 01_quickstart, 02_b, or all"):
        refresh_names(["03"], ["02_b.ipynb", "01_quickstart.ipynb"])


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        (set(), "n.mine.ipynb"),
        ({"n.mine.ipynb"}, "n.mine-2.ipynb"),
        ({"n.mine.ipynb", "n.mine-2.ipynb"}, "n.mine-3.ipynb"),
    ],
)
def test_backup_name_never_reuses_a_name(taken, expected) -> None:
    assert backup_name("n.ipynb", taken) == expected


def test_describe_lines() -> None:
    folder = Path("/w")
    first = FolderSync(folder, (Step("a.ipynb", "copy"), Step("b.ipynb", "copy")))
    assert describe(first) == [
        "Copied 2 notebooks to /w: a.ipynb, b.ipynb",
        "  This is your working folder: edit the notebooks freely; a later `ttai-notebook lab` never overwrites "
        "one you changed.",
    ]
    later = FolderSync(folder, (Step("a.ipynb", "update"), Step("b.ipynb", "keep"), Step("c.ipynb", "refresh"),
                                Step("d.ipynb", "copy")), {"c.ipynb": "c.mine.ipynb"}, dry_run=True)
    assert describe(later) == [
        "Would copy 1 notebook to /w: d.ipynb",
        "Would update 1 notebook you had not changed to this version: a.ipynb",
        "Would replace c.ipynb with a fresh copy; yours would be kept as c.mine.ipynb",
        "Kept 1 notebook you changed (the bundled version differs): b.ipynb",
        "  For a fresh copy: ttai-notebook lab --refresh b (yours is kept as b.mine.ipynb)",
    ]
    assert describe(FolderSync(folder, (Step("a.ipynb", "same"),))) == ["Your notebooks in /w are up to date."]


def test_sync_copies_only_notebooks_and_survives_a_damaged_manifest(tmp_path: Path) -> None:
    source = tmp_path / "bundled"
    source.mkdir()
    (source / "01.ipynb").write_text('{"v": 1}')
    (source / "sanitize.cfg").write_text("[x]")  # not a notebook: never copied
    folder = tmp_path / "work"
    result = sync(source, folder, version="9.9")
    assert [s.action for s in result.steps] == ["copy"]
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "01.ipynb"]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["written_by"] == "ttai-notebook 9.9" and list(manifest["files"]) == ["01.ipynb"]

    (folder / MANIFEST).write_text("not json")
    (source / "01.ipynb").write_text('{"v": 2}')
    result = sync(source, folder)
    assert [s.action for s in result.steps] == ["keep"]  # without a record, a differing file may be the user's
    assert (folder / "01.ipynb").read_text() == '{"v": 1}'
