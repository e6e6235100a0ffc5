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

A ``.py`` script that Quarto would run with the interpreter already running the build (no
``QUARTO_PYTHON``, or the same one) is run in this process instead, with the same
environment, arguments and working folder (:func:`_run_python_here`): the same script and
the same result, without a second Python starting and importing the project's packages
(about half a second per profile on a two-core machine).
"""

from __future__ import annotations

import io
import os
import runpy
import shlex
import subprocess
import sys
import threading
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
        if argv[0] == sys.executable and Path(words[0]).suffix.lower() == ".py":
            code, output = _run_python_here(argv[1], argv[2:], env=env, cwd=root)
            if code != 0:
                detail = output.strip()[-2000:]
                raise RenderError(f"the post-render script {' '.join(words)} failed (exit "
                                  f"{code}) after rendering the {profile} profile"
                                  + (f":\n{detail}" if detail else ""))
            continue
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


_HERE = threading.Lock()  # one script at a time: the environment and folder are the process's


class _ThisThreadInto:
    """A stand-in for ``sys.stdout``/``sys.stderr`` while a script runs here: what the
    script's thread writes goes into ``buffer``; what any other thread writes (a progress
    display refreshing, the preview's web server) still reaches the real stream."""

    def __init__(self, real, buffer: io.StringIO):
        self._real, self._buffer, self._thread = real, buffer, threading.get_ident()

    def _target(self):
        return self._buffer if threading.get_ident() == self._thread else self._real

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name):  # isatty, encoding, fileno, …: the real stream's
        return getattr(self._real, name)


def _run_python_here(script: str, args: list[str], *, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run a Python script as ``python script args`` would, in this process: its
    environment, ``sys.argv`` and working folder for the time it runs, its output
    captured. Returns (exit code, output).

    Output is captured for the script's thread only (:class:`_ThisThreadInto`): other
    threads (a progress display, the preview's server) keep writing to the console. The
    environment and working folder are the process's while the script runs; the build's
    other threads use absolute paths."""
    out = io.StringIO()
    with _HERE:
        saved_env, saved_argv, saved_path, saved_cwd = dict(os.environ), sys.argv, list(sys.path), os.getcwd()
        saved_out, saved_err = sys.stdout, sys.stderr
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [script, *args]
        sys.path.insert(0, str(Path(script).parent))
        os.chdir(cwd)
        code = 0
        sys.stdout, sys.stderr = _ThisThreadInto(saved_out, out), _ThisThreadInto(saved_err, out)
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, int) and exc.code is not None:
                out.write(str(exc.code))
        except Exception as exc:  # noqa: BLE001 - a failing script is reported, as its exit would be
            import traceback

            out.write("".join(traceback.format_exception(exc)))
            code = 1
        finally:
            sys.stdout, sys.stderr = saved_out, saved_err
            os.chdir(saved_cwd)
            sys.argv, sys.path[:] = saved_argv, saved_path
            os.environ.clear()
            os.environ.update(saved_env)
    return code, out.getvalue()
