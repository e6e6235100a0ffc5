#!/usr/bin/env python3
"""The project's Quarto post-render step (``project: post-render`` in _quarto.yml).

Quarto runs it with ``QUARTO_PYTHON`` or the ``python3`` on PATH, in the project folder,
after each render; the built-in renderer runs it the same way. The work is done by
``bpsreport.postrender`` (edition bar, downloads, search over every edition, root page).
When the interpreter that started it lacks the project's packages, it hands over to the
project's own virtual environment (``.venv``), which ``./run setup`` creates.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _project_python() -> Path | None:
    for candidate in (ROOT / ".venv" / "bin" / "python", ROOT / ".venv" / "Scripts" / "python.exe"):
        if candidate.is_file():
            return candidate
    return None


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    try:
        import yaml  # noqa: F401 - the project's packages are importable here
        import bpsreport.postrender as postrender
    except ImportError:
        venv = _project_python()
        if venv is None or Path(sys.executable).resolve() == venv.resolve():
            print("post-render: the project's Python packages are missing; run ./run setup "
                  "(it creates .venv), or set QUARTO_PYTHON to that environment's python",
                  file=sys.stderr)
            sys.exit(1)
        os.execv(str(venv), [str(venv), __file__, *sys.argv[1:]])
    sys.exit(postrender.main(sys.argv[1:]))
