"""Publishing a rendered edition: all or nothing, for every reader.

The site and the PDFs a build publishes live in one *version* folder; one symbolic link
says which version is current, and everything a reader opens goes through it::

    build/publish/v-<time>-<pid>/site/...                  a complete site (every edition)
    build/publish/v-<time>-<pid>/pdf/<unit>/<year>/*.pdf   the editions' PDFs
    build/publish/current -> v-<time>-<pid>                the one switch
    _site -> build/publish/current/site                    (made once)
    build/<unit>/<year>/pdf -> ../../publish/current/pdf/<unit>/<year>   (made once)

A build renders into a new folder (``build/publish/.new-*``), starting from a copy of the
current version without the edition it renders, so the other editions stay as they were.
Only when the render has succeeded is the folder renamed into a version and ``current``
replaced by a new link in one ``rename`` (atomic on POSIX file systems). A reader (a
browser on ``file://``, the preview server, someone copying a PDF) sees the old outputs
or the new ones, never a mixture, and never nothing: a ``kill -9`` at any moment leaves
``current`` pointing at a complete version. What a dead build left behind (``.new-*``
folders, versions no longer current) is removed by the next build; the current version
and the one before it are kept.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

PUBLISH_DIR = Path("build") / "publish"
CURRENT = "current"
_VERSION = re.compile(r"^v-\d{8}-\d{6}-\d+(-\d+)?$")
_STAGING = re.compile(r"^\.new-\d+-\d+$")


def _rel_link(link: Path, target: Path) -> str:
    return os.path.relpath(target, link.parent)


def _replace_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` in one rename (a new link replaces the old one)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


@dataclass
class Publication:
    """The published outputs of a project (see the module docstring)."""

    root: Path

    @property
    def folder(self) -> Path:
        return self.root / PUBLISH_DIR

    @property
    def current(self) -> Path:
        return self.folder / CURRENT

    @property
    def site_link(self) -> Path:
        return self.root / "_site"

    def pdf_link(self, unit_id: str, year: int) -> Path:
        return self.root / "build" / unit_id / str(year) / "pdf"

    def current_version(self) -> Path | None:
        if self.current.is_symlink() and self.current.resolve().is_dir():
            return self.current.resolve()
        if self.current.is_dir():
            # A copy of the project made without keeping links (cp -r, copytree): the
            # version the link pointed to is now a folder of its own; make it a version.
            version = self.folder / f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-9"
            os.rename(self.current, version)
            _replace_link(self.current, version.name)
            return version
        return None

    # -- a new version -------------------------------------------------------------------------
    def start(self, *, unit_id: str, year: int) -> Path:
        """A staging folder holding the current version without ``unit_id``/``year``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.remove_stale(versions=False)
        self.adopt_legacy_outputs(unit_id, year)
        staging = self.folder / f".new-{os.getpid()}-{time.time_ns()}"
        staging.mkdir()
        current = self.current_version()
        if current is not None:
            if (current / "site").is_dir():
                shutil.copytree(current / "site", staging / "site", symlinks=True)
            if (current / "pdf").is_dir():
                shutil.copytree(current / "pdf", staging / "pdf", symlinks=True)
        site = staging / "site"
        for folder in list(site.glob(f"*/reports/{year}")) + [site / "downloads" / str(year),
                                                              staging / "pdf" / unit_id / str(year)]:
            shutil.rmtree(folder, ignore_errors=True)
        for index in site.glob(f"_bps/search/{year}-*.js"):
            index.unlink()
        return staging

    def switch(self, staging: Path, *, unit_id: str, year: int) -> Path:
        """Make ``staging`` the current version (one rename), then tidy up."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        version = self.folder / f"v-{stamp}-{os.getpid()}"
        n = 0
        while version.exists():
            n += 1
            version = self.folder / f"v-{stamp}-{os.getpid()}-{n}"
        os.rename(staging, version)
        previous = self.current_version()
        _replace_link(self.current, version.name)
        self.ensure_links(unit_id, year)
        self.remove_stale(keep={version, previous} - {None})
        return version

    # -- the fixed links ---------------------------------------------------------------------------
    def ensure_links(self, unit_id: str, year: int) -> None:
        """``_site`` and ``build/<unit>/<year>/pdf`` point into ``current`` (made once)."""
        wanted = {self.site_link: self.current / "site",
                  self.pdf_link(unit_id, year): self.current / "pdf" / unit_id / str(year)}
        for link, target in wanted.items():
            text = _rel_link(link, target)
            if link.is_symlink() and os.readlink(link) == text:
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.exists() and not link.is_symlink():
                continue  # adopted by adopt_legacy_outputs before the render
            _replace_link(link, text)

    def adopt_legacy_outputs(self, unit_id: str, year: int) -> None:
        """A site or PDF folder from before versioned publishing becomes the first version,
        so nothing published is lost and the other editions carry over."""
        site, pdf = self.site_link, self.pdf_link(unit_id, year)
        legacy_site = site.is_dir() and not site.is_symlink()
        legacy_pdfs = [p for p in (self.root / "build").glob("*/*/pdf")
                       if p.parent.name.isdigit() and p.parent.parent.name != PUBLISH_DIR.name
                       and p.is_dir() and not p.is_symlink()]
        if not legacy_site and not legacy_pdfs:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        version = self.current_version()
        if version is None:
            version = self.folder / f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-0"
            version.mkdir()
        if legacy_site:
            if not (version / "site").exists():
                os.rename(site, version / "site")
            else:
                shutil.rmtree(site)
        for folder in legacy_pdfs:
            unit, year_dir = folder.parent.parent.name, folder.parent.name
            dest = version / "pdf" / unit / year_dir
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.rename(folder, dest)
            else:
                shutil.rmtree(folder)
        if self.current_version() is None:
            _replace_link(self.current, version.name)
        _replace_link(site, _rel_link(site, self.current / "site"))
        for folder in legacy_pdfs:
            unit, year_dir = folder.parent.parent.name, folder.parent.name
            _replace_link(folder, _rel_link(folder, self.current / "pdf" / unit / year_dir))

    # -- what dead builds left -------------------------------------------------------------------
    def remove_stale(self, keep: set[Path] | None = None, *, versions: bool = True) -> list[Path]:
        """Staging folders of dead builds and, with ``versions``, versions other than the
        current one and ``keep``. Only names this module makes are touched; a staging
        folder of a live build cannot exist here, because builds hold the project lock."""
        if not self.folder.is_dir():
            return []
        keep = {p.resolve() for p in (keep or set())}
        current = self.current_version()
        if current is not None:
            keep.add(current)
        removed = []
        for entry in self.folder.iterdir():
            if entry.is_symlink():
                if entry.name.endswith(".tmp"):
                    entry.unlink()
                continue
            stale = _STAGING.match(entry.name) or (
                versions and _VERSION.match(entry.name) and entry.resolve() not in keep)
            if stale:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        return removed

    def discard(self, staging: Path) -> None:
        """Drop a staging folder after a failed render; the current version is untouched."""
        shutil.rmtree(staging, ignore_errors=True)
