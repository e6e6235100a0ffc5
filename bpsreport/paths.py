"""Where each stage reads and writes, relative to the project root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProjectPaths:
    root: Path

    @classmethod
    def at(cls, root: Path | str) -> "ProjectPaths":
        return cls(Path(root).resolve())

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def clean(self) -> Path:
        return self.root / "data" / "clean"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def build(self) -> Path:
        return self.root / "build"

    def edition_build(self, unit_id: str, year: int) -> Path:
        return self.build / unit_id / str(year)

    def shown(self, path: Path) -> str:
        """A path as messages show it: relative to the project root when inside it.

        Symbolic links inside the project are kept as written (``_site/index.html``, not
        the published version folder it points into)."""
        import os

        for candidate in (Path(os.path.abspath(path)), Path(path).resolve()):
            try:
                return str(candidate.relative_to(self.root))
            except ValueError:
                continue
        return str(path)
