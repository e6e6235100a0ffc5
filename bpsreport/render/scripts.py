"""A project's ``pre-render`` / ``post-render`` scripts, run the way Quarto runs them.

Quarto (``src/command/render/project.ts``, ``runScripts``):

- ``project: post-render`` is a command line or a list of them, run one after another
  in the project folder; a command line is split on spaces, ``"…"`` grouping words;
- a ``.py`` script runs with Python (Quarto takes ``QUARTO_PYTHON`` or the ``python3``
  on PATH; the built-in renderer and the Quarto backend both use this project's Python),
  ``.R`` with Rscript, ``.ts``/``.js`` with Deno, anything else as an executable;
- the environment adds ``QUARTO_PROJECT_OUTPUT_DIR`` (absolute),
  ``QUARTO_PROJECT_OUTPUT_FILES`` (post-render: the files written, one per line,
  relative to the project folder), ``QUARTO_PROJECT_RENDER_ALL=1`` only for a render of
  every input, and ``QUARTO_PROFILE``;
- a script that exits with an error stops the render.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from bpsreport.render import RenderError


def script_commands(project_config: dict, phase: str) -> list[list[str]]:
    """The command lines of ``project: <phase>`` (``pre-render`` / ``post-render``)."""
    entries = (project_config.get("project") or {}).get(phase) or []
    if isinstance(entries, str):
        entries = [entries]
    return [shlex.split(str(e)) for e in entries if str(e).strip()]


def _argv(words: list[str], root: Path) -> list[str]:
    script = words[0]
    suffix = Path(script).suffix.lower()
    if suffix == ".py":
        return [os.environ.get("QUARTO_PYTHON") or sys.executable, str(root / script), *words[1:]]
    if suffix in (".r",):
        return ["Rscript", str(root / script), *words[1:]]
    if suffix in (".ts", ".js", ".lua"):
        raise RenderError(f"_quarto.yml: the {suffix} project script {script} needs Quarto "
                          "itself (Deno or pandoc's Lua); the built-in renderer runs Python, "
                          "R and executable scripts")
    path = root / script
    return [str(path) if path.exists() else script, *words[1:]]


def run_post_render(root: Path, project_config: dict, *, output_dir: Path,
                    output_files: Iterable[Path], profile: str, render_all: bool = False) -> None:
    """Run ``project: post-render`` after a render of ``profile`` into ``output_dir``."""
    root = Path(root).resolve()
    env = dict(os.environ)
    env["QUARTO_PROJECT_DIR"] = str(root)
    env["QUARTO_PROJECT_OUTPUT_DIR"] = str(Path(output_dir).resolve())
    env["QUARTO_PROFILE"] = profile
    files = []
    for f in output_files:
        f = Path(f).resolve()
        try:
            files.append(f.relative_to(root).as_posix())
        except ValueError:
            files.append(str(f))
    env["QUARTO_PROJECT_OUTPUT_FILES"] = "\n".join(files)
    if render_all:
        env["QUARTO_PROJECT_RENDER_ALL"] = "1"
    else:
        env.pop("QUARTO_PROJECT_RENDER_ALL", None)
    env.setdefault("QUARTO_PROJECT_SCRIPT_QUIET", "1")
    for words in script_commands(project_config, "post-render"):
        script = root / words[0]
        if Path(words[0]).suffix and not script.is_file():
            raise RenderError(f"_quarto.yml lists the post-render script {words[0]}, which is not "
                              f"in the project ({script}); restore it (git checkout -- "
                              f"{words[0]}) or remove it from project: post-render")
        argv = _argv(words, root)
        try:
            proc = subprocess.run(argv, cwd=str(root), env=env, capture_output=True, text=True,
                                  check=False)
        except OSError as exc:
            raise RenderError(f"_quarto.yml: the post-render script {' '.join(words)} could not "
                              f"be started ({exc})") from exc
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip()[-2000:]
            raise RenderError(f"the post-render script {' '.join(words)} failed (exit "
                              f"{proc.returncode}) after rendering the {profile} profile"
                              + (f":\n{detail}" if detail else ""))
