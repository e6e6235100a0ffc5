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
