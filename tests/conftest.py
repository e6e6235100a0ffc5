"""Shared fixtures: the project root, the real catalog, and a scratch copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"


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


@pytest.fixture(scope="session")
def edition_2017() -> Path:
    """The real 2017 edition, built in this checkout by the README's build command path.

    The build is incremental, so this is quick when the outputs are current. A file lock
    keeps parallel test workers (pytest -n) from building at the same time.
    """
    import fcntl

    from bpsreport.cli import main

    lock_path = ROOT / "build" / ".test-build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        code = main(["--root", str(ROOT), "build", "--year", "2017"])
    assert code == 0, "pipeline.py build --year 2017 failed; run it to see why"
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
