"""Shared fixtures: the project root, the real catalog, scratch copies and built editions.

Built editions are shared, never rebuilt per module:

- ``edition_2017``: the checkout's own 2017 build (incremental: a no-op when current);
- ``cold_build``: a scratch copy of the project's inputs built from nothing once per test
  run, shared by every pytest-xdist worker (a file lock in the run's common temporary
  folder). Tests that change files work on a copy of it (:func:`copy_project`).

Tests that need a built edition (or run papermill kernels, or nbval's notebooks) are
marked ``slow`` automatically; ``./run test -m "not slow"`` leaves them out.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
# What a build reads; a scratch project is these plus its outputs.
PROJECT_INPUTS = ("data/raw", "config", "notebooks", "reports", "templates", "scripts")
# Fixtures whose users are slow tests: they build an edition or start kernels.
SLOW_FIXTURES = {"edition_2017", "cold_build", "built_project", "workflow", "preview_project",
                 "edition_run"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        # nbval's items are the cells of a notebook, run in order in one kernel; `./run test`
        # uses `--dist loadfile`, which keeps a file's items on one worker. (loadgroup with
        # xdist_group marks does not group with pytest 9 and xdist 3.8.)
        nbval = getattr(item, "path", None) is not None and item.path.suffix == ".ipynb"
        if nbval or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def catalog():
    from bpsreport.catalog import load_catalog
    return load_catalog(ROOT / "data" / "raw", root=ROOT)


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A scratch copy of the inputs a build reads (raw data, config), without outputs."""
    dest = tmp_path / "project"
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "config", dest / "config")
    return dest


def copy_project(source: Path, dest: Path, *, with_outputs: bool = True) -> Path:
    """A copy of a project: its inputs and, by default, its outputs (clean data, build/,
    _site/, _variables.yml); build logs are left behind."""
    for name in PROJECT_INPUTS:
        if (source / name).exists():
            shutil.copytree(source / name, dest / name)
    for f in source.glob("_quarto*.yml"):
        shutil.copy2(f, dest / f.name)
    if with_outputs:
        for name in ("data/clean", "build", "_site"):
            if (source / name).is_dir():
                shutil.copytree(source / name, dest / name, dirs_exist_ok=True, symlinks=True,
                                ignore=shutil.ignore_patterns("logs", ".test-build.lock"))
        if (source / "_variables.yml").is_file():
            shutil.copy2(source / "_variables.yml", dest / "_variables.yml")
    return dest


def copy_built_edition(dest: Path, unit: str = "gd-province", year: int = 2017) -> Path:
    """The checkout's inputs, without the reports of later editions, plus the outputs of
    its own build of one edition (clean data, that edition's build folder, the site and
    _variables.yml), so that a test can start the next edition without building this one."""
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    later = [str(y) for y in range(year + 1, year + 10)]
    for name in PROJECT_INPUTS:
        if name != "data/raw":
            shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns(*later))
    for path in [*ROOT.glob("_quarto*.yml"), ROOT / "pipeline.py"]:
        shutil.copy2(path, dest / path.name)
    shutil.copytree(ROOT / "data" / "clean", dest / "data" / "clean")
    shutil.copytree(ROOT / "build" / unit / str(year), dest / "build" / unit / str(year))
    shutil.copytree(ROOT / "_site", dest / "_site")
    shutil.copy2(ROOT / "_variables.yml", dest / "_variables.yml")
    return dest


def file_hashes(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``{path relative to folder: sha256}`` of every file below ``folder``, except those
    with a path part in ``skip``."""
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and not any(part in skip for part in p.relative_to(folder).parts)}


def run_pipeline(root: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """``pipeline.py --root ROOT ARGS`` as a user runs it, in a subprocess."""
    cmd = [sys.executable, str(ROOT / "pipeline.py"), "--root", str(root), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def shared_dir(tmp_path_factory, name: str) -> Path:
    """A folder shared by all xdist workers of this test run (one per run without xdist)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / name


class ColdBuild:
    """A project built from nothing by ``pipeline.py build --year 2017``, and what it printed."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.root = folder / "project"
        result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        self.returncode, self.stdout, self.stderr = (result["returncode"], result["stdout"],
                                                     result["stderr"])


@pytest.fixture(scope="session")
def cold_build(tmp_path_factory) -> ColdBuild:
    """The 2017 edition built cold in a scratch copy of the project's inputs, once per run."""
    folder = shared_dir(tmp_path_factory, "cold-build-2017")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "result.json").is_file():
            shutil.rmtree(folder / "project", ignore_errors=True)
            copy_project(ROOT, folder / "project", with_outputs=False)
            proc = run_pipeline(folder / "project", "build", "--year", "2017")
            (folder / "result.json").write_text(json.dumps(
                {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}),
                encoding="utf-8")
    built = ColdBuild(folder)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return built


@pytest.fixture(scope="session")
def edition_2017() -> Path:
    """The real 2017 edition, built in this checkout by the README's build command path.

    The build is incremental, so this is quick when the outputs are current. A file lock
    keeps parallel test workers (pytest -n) from building at the same time.
    """
    from bpsreport.cli import main

    lock_path = ROOT / "build" / ".test-build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        code = main(["--root", str(ROOT), "build", "--year", "2017"])
    assert code == 0, "pipeline.py build --year 2017 failed; see build/logs/"
    return ROOT


@pytest.fixture(scope="session")
def rendered_fixture(tmp_path_factory):
    """The SYNTHETIC render fixture (tests/fixtures/render/) rendered once per session
    through the built-in backend: pages, PDFs, then the project's post-render script.

    Returns the ``RenderResult``; its ``site_dir`` is shared by the site, browser and
    comparison tests, which only read it (copy it before changing anything).
    """
    from bpsreport.render import RenderRequest, select_backend

    tmp = tmp_path_factory.mktemp("rendered-fixture")
    project = tmp / "project"  # a copy: the backend keeps its page cache under build/
    shutil.copytree(ROOT / "tests" / "fixtures" / "render", project)
    request = RenderRequest(root=project, unit_id="test-unit", year=2017, site_dir=tmp / "site",
                            pdf_dir=tmp / "pdf", work_dir=tmp / "typst")
    return select_backend("builtin").render(request)
