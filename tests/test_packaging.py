"""Release artefacts: the wheel and the sdist built from this working tree hold exactly the allow-listed files.

Built with the project's own backend (hatchling, no build isolation: no download), after planting the files a
notebook run and an editor leave behind, to prove they stay out. ``twine check --strict`` judges the metadata and
the README as the long description. The installed wheel itself is exercised by ``.ci/wheel-smoke``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import ttai_notebook

REPO = Path(__file__).resolve().parents[1]
VERSION = ttai_notebook.__version__
DIST_INFO = f"ttai_notebook-{VERSION}.dist-info"
SDIST_ROOT = f"ttai_notebook-{VERSION}"

# What a run of the notebooks, Jupyter and Python leave in the tree (notebook 04 writes the output/ files).
PLANTED = [
    "notebooks/output/sandbox-demo.sqlite",
    "notebooks/output/sessions.csv",
    "notebooks/output/report_cards.csv",
    "notebooks/output/statements.json",
    "notebooks/.ipynb_checkpoints/01_quickstart-checkpoint.ipynb",
    "notebooks/scratch-export.csv",
    "ttai_notebook/analyses.sqlite",
    "ttai_notebook/__pycache__/planted.cpython-311.pyc",
]

# The package: code, the py.typed marker, and data files of the kinds it ships (the widgets' static files, the
# sandbox's JSON copy of the vendor spec). A new kind of file in the package fails here until someone decides.
PACKAGE_FILES = [
    r"ttai_notebook/([a-z_0-9]+/)*[a-z_0-9]+\.py",
    r"ttai_notebook/py\.typed",
    r"ttai_notebook/([a-z_0-9]+/)*[\w.-]+\.(js|css|html|json)",
]
GENERATED = re.compile(r".*(/__pycache__/.*|\.py[cod]|\.sqlite.*|/\.ipynb_checkpoints/.*|/output/.*)")
WHEEL_ALLOWED = [
    *PACKAGE_FILES,
    r"ttai_notebook/_notebooks/\d\d_[a-z_0-9]+\.ipynb",
    rf"{re.escape(DIST_INFO)}/(METADATA|WHEEL|RECORD|entry_points\.txt|licenses/LICENSE)",
]
SDIST_ALLOWED = [
    *PACKAGE_FILES,
    r"notebooks/\d\d_[a-z_0-9]+\.ipynb",
    r"README\.md|CHANGELOG\.md|LICENSE|pyproject\.toml|PKG-INFO|\.gitignore",
]


def not_allowed(names: list[str], patterns: list[str]) -> list[str]:
    return [n for n in names if not any(re.fullmatch(p, n) for p in patterns)]


def expected_from_tree() -> set[str]:
    """The files that must ship: the package's sources and assets on disk, and the curated notebooks."""
    package = {
        rel for p in (REPO / "ttai_notebook").rglob("*")
        if p.is_file() and not GENERATED.fullmatch(rel := p.relative_to(REPO).as_posix())
    }
    notebooks = {p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    return package | {f"notebooks/{n}" for n in notebooks}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    planted: list[Path] = []
    made_dirs: list[Path] = []
    try:
        for rel in PLANTED:
            path = REPO / rel
            if not path.exists():  # a real run's files are left alone; only ours are removed afterwards
                missing = [d for d in reversed(path.parents) if REPO in d.parents and not d.exists()]
                path.parent.mkdir(parents=True, exist_ok=True)
                made_dirs[:0] = missing  # deepest first, for removal
                # A valid (empty) notebook, so a concurrent `ttai-notebook audit notebooks/` reads it harmlessly.
                path.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
                                if path.suffix == ".ipynb" else "generated, must not ship")
                planted.append(path)
        assert all((REPO / rel).is_file() for rel in PLANTED)
        proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-t", "sdist", "-d",
                               str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        for path in planted:
            path.unlink()
        for folder in made_dirs:
            folder.rmdir()
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "out": out}


def wheel_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def sdist_names(path: Path) -> list[str]:
    with tarfile.open(path) as tf:
        names = [m.name for m in tf.getmembers() if m.isfile()]
    assert all(n.startswith(f"{SDIST_ROOT}/") for n in names), names
    return [n[len(SDIST_ROOT) + 1:] for n in names]


def test_wheel_holds_exactly_the_allow_list(built: dict[str, Path]) -> None:
    names = wheel_names(built["wheel"])
    assert not_allowed(names, WHEEL_ALLOWED) == []
    assert [n for n in names if GENERATED.fullmatch(n)] == []
    assert len(names) == len(set(names))
    shipped = {n.replace("ttai_notebook/_notebooks/", "notebooks/") for n in names}
    assert expected_from_tree() - shipped == set(), "files of the package or curated notebooks missing"
    assert f"{DIST_INFO}/licenses/LICENSE" in names
    for rel in PLANTED:
        assert Path(rel).name not in {Path(n).name for n in names}, rel


def test_sdist_holds_exactly_the_allow_list(built: dict[str, Path]) -> None:
    names = sdist_names(built["sdist"])
    assert not_allowed(names, SDIST_ALLOWED) == []
    assert [n for n in names if GENERATED.fullmatch(n)] == []
    assert expected_from_tree() - set(names) == set()
    assert {"README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO"} <= set(names)


def test_a_wheel_built_from_the_sdist_is_the_same_wheel(built: dict[str, Path], tmp_path: Path) -> None:
    # pip and `uv build` build the wheel from the sdist: it must carry everything the wheel needs.
    with tarfile.open(built["sdist"]) as tf:
        tf.extractall(tmp_path, filter="data")
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "w")],
                          cwd=tmp_path / SDIST_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (again,) = (tmp_path / "w").glob("*.whl")
    assert sorted(wheel_names(again)) == sorted(wheel_names(built["wheel"]))


def test_metadata_a_package_index_expects(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as zf:
        meta = Parser().parsestr(zf.read(f"{DIST_INFO}/METADATA").decode())
        entry_points = zf.read(f"{DIST_INFO}/entry_points.txt").decode()
        license_text = zf.read(f"{DIST_INFO}/licenses/LICENSE").decode()
    assert meta["Name"] == "ttai-notebook" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "MIT" and meta["License-File"] == "LICENSE"
    assert license_text.startswith("MIT License") and license_text == (REPO / "LICENSE").read_text()
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (REPO / "README.md").read_text().strip()  # the README is the description
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers and "Framework :: Jupyter :: JupyterLab" in classifiers
    assert meta["Requires-Python"] == ">=3.10"
    assert "ttai-notebook = ttai_notebook.cli:main" in entry_points
    assert f"## [{VERSION}]" in (REPO / "CHANGELOG.md").read_text(), "the CHANGELOG has no entry for this version"


def test_twine_check_passes_strict(built: dict[str, Path]) -> None:
    proc = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(built["wheel"]),
                           str(built["sdist"])], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2
