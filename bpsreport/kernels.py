"""How the notebooks' Jupyter kernels are started, and what each kernel is seen to touch.

papermill still executes every notebook in a kernel of its own, from an empty namespace
and ``In [1]``; this module only changes how that kernel process comes to exist:

``forked`` (the default on Linux)
    One *warm parent* per build (``python -m bpsreport.kernels warm-parent``) imports what
    the templates' first cell imports (pandas, matplotlib, plotnine, great_tables,
    ``bpsreport.charts``/``tables``/``notebooks``) and ipykernel, once. Each kernel is then
    ``os.fork()``-ed from it and starts ipykernel as ``python -m ipykernel_launcher``
    would. A cold kernel spends about 2.5 s of CPU on start-up and imports; a forked one
    a few hundredths. Module state in the parent is exactly what those imports leave,
    so the outputs are byte-identical to a cold kernel's (``tests/test_notebook_cache.py``
    checks it against plain papermill runs).
``fresh``
    A new ``python -m bpsreport.kernels kernel`` process per notebook (the fallback where
    ``fork`` is not available, or when the warm parent cannot start).

Either way the kernel records, through a Python audit hook (:func:`install_trace`), which
files under the project root it opened for reading and for writing, and which
``bpsreport`` modules it had loaded; it writes that :class:`KernelTrace` to the path in
``$BPSREPORT_KERNEL_TRACE`` when it exits. The build uses it to know which charts and
tables each notebook wrote (to verify them later) and which code and configuration files
it read (its cache key, see :mod:`bpsreport.notebook_cache`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

TRACE_ENV = "BPSREPORT_KERNEL_TRACE"
ROOT_ENV = "BPSREPORT_KERNEL_ROOT"
# What the templates' setup cell imports, plus what the kernel itself needs: imported once
# in the warm parent. Only imports: nothing here may run code that leaves state behind
# (no fonts configured, no figure drawn), so that a forked kernel starts as a cold one.
WARM_IMPORTS = ("ipykernel.kernelapp", "pandas", "pyarrow.parquet", "matplotlib",
                "matplotlib.pyplot", "plotnine", "great_tables", "nbformat",
                "bpsreport.charts", "bpsreport.tables", "bpsreport.notebooks")
# As ipykernel sets it when it starts (kernelapp.init_gui_pylab); matplotlib reads it at import.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


class KernelStartError(RuntimeError):
    """The warm parent could not start or fork a kernel."""


def fork_available() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux")


# --- the trace (kernel side) -------------------------------------------------------------------

@dataclass
class KernelTrace:
    """What one kernel touched: paths are absolute."""

    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "KernelTrace | None":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return cls(reads=list(data["reads"]), writes=list(data["writes"]),
                   modules=list(data["modules"]))


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_trace: dict | None = None


def install_trace(root: str | os.PathLike) -> None:
    """Record every file under ``root`` this process opens, from now on (idempotent).

    The ``open`` audit event covers ``open()``, ``io.open``, ``Path.read_text`` /
    ``write_text``, ``os.open`` and what C code opens through them (matplotlib, PIL).
    Files opened by C++ libraries directly (pyarrow reading Parquet) are not seen; the
    clean data a notebook reads is keyed separately (:mod:`bpsreport.notebook_cache`).
    """
    global _trace
    if _trace is not None:
        return
    prefix = os.path.join(os.path.abspath(root), "")
    # Installed code (a .venv inside the project) and bytecode are not inputs of ours: the
    # code a notebook ran is the list of loaded ``bpsreport`` modules, written at exit.
    ignored = tuple({os.path.join(os.path.abspath(p), "") for p in (sys.prefix, sys.base_prefix)})
    reads: set[str] = set()
    writes: set[str] = set()
    _trace = {"reads": reads, "writes": writes}

    def hook(event: str, args: tuple) -> None:
        if event != "open":
            return
        path, mode, flags = args
        if isinstance(path, int) or path is None:
            return
        try:
            path = os.path.abspath(os.fsdecode(path))
        except (TypeError, ValueError):
            return
        if not path.startswith(prefix) or path.startswith(ignored):
            return
        if mode is None:
            writing = bool((flags or 0) & _WRITE_FLAGS)
        else:
            writing = any(c in mode for c in "wax+")
        if writing:
            writes.add(path)
        elif not (path.endswith((".py", ".pyc")) or os.sep + "." in path[len(prefix) - 1:]
                  or ".egg-info" + os.sep in path):
            reads.add(path)

    sys.addaudithook(hook)


def write_trace(path: str | os.PathLike) -> None:
    """Write what was recorded so far (and the loaded ``bpsreport`` modules) to ``path``."""
    if _trace is None:
        return
    modules = sorted({os.path.abspath(m.__file__) for name, m in list(sys.modules.items())
                      if (name == "bpsreport" or name.startswith("bpsreport."))
                      and getattr(m, "__file__", None)})
    data = {"reads": sorted(_trace["reads"]), "writes": sorted(_trace["writes"]),
            "modules": modules}
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def _launch_ipykernel(argv: list[str]) -> None:
    """Run an IPython kernel in this process, as ``python -m ipykernel_launcher`` does."""
    trace_path = os.environ.get(TRACE_ENV)
    try:
        from ipykernel import kernelapp

        sys.argv = [kernelapp.__file__, *argv]
        kernelapp.IPKernelApp.launch_instance(argv=list(argv))
    finally:
        if trace_path:
            write_trace(trace_path)


def kernel_main(argv: list[str]) -> None:
    """``python -m bpsreport.kernels kernel -f CONNECTION_FILE ...``: a traced fresh kernel."""
    # Like ipykernel_launcher: the working directory leaves sys.path while ipykernel loads
    # (IPython puts it back first, as in any kernel).
    if sys.path and (sys.path[0] in ("", os.getcwd())):
        del sys.path[0]
    install_trace(os.environ.get(ROOT_ENV) or os.getcwd())
    _launch_ipykernel(argv)


# --- the warm parent ---------------------------------------------------------------------------

def warm_parent_main() -> None:
    """``python -m bpsreport.kernels warm-parent``: import once, then fork one kernel per request.

    Protocol on stdin/stdout, one JSON object per line: the parent first answers
    ``{"ready": true}`` (or ``{"error": "..."}``); each request ``{"argv", "env", "cwd"}``
    is answered ``{"pid": N}`` once the kernel is forked. End of input: the parent waits
    for its kernels and exits.
    """
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # nothing a library prints may land in the protocol

    def reply(obj: dict) -> None:
        replies.write((json.dumps(obj) + "\n").encode())

    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    install_trace(os.environ.get(ROOT_ENV) or os.getcwd())
    sys.path.insert(0, "")  # as IPython's init_path leaves it in a kernel
    try:
        import importlib
        for name in WARM_IMPORTS:
            importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - reported to the build, which falls back
        reply({"error": f"{type(exc).__name__}: {exc}"})
        return
    del sys.path[0]
    if threading.active_count() != 1:  # a fork would lose those threads' state
        reply({"error": f"{threading.active_count()} threads after the imports; cannot fork"})
        return

    def reap(signum, frame) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    signal.signal(signal.SIGCHLD, reap)
    reply({"ready": True})
    buffer = b""
    while True:
        chunk = requests.read(65536)
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                requests.close()
                replies.close()
                _become_kernel(request)  # never returns
            reply({"pid": pid})
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:  # wait for the kernels still running, so their CPU time is accounted
        try:
            os.wait()
        except ChildProcessError:
            break


def _become_kernel(request: dict) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own process group, as jupyter_client starts kernels
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _launch_ipykernel(list(request["argv"]))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - the build sees the kernel die and reports it
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class WarmParent:
    """The build side of the warm parent: start it, fork kernels from it, stop it."""

    def __init__(self, root: Path, env: dict[str, str] | None = None, *, timeout_s: float = 120):
        import subprocess

        self.root = Path(root).resolve()
        env = dict(os.environ if env is None else env)
        env[ROOT_ENV] = str(self.root)
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bpsreport.kernels", "warm-parent"], cwd=self.root, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None)
        first = self._read_reply(timeout_s)
        if not first.get("ready"):
            self.close()
            raise KernelStartError(first.get("error") or "the warm parent did not start")

    def _read_reply(self, timeout_s: float | None = None) -> dict:
        import select

        if timeout_s is not None:
            ready, _, _ = select.select([self._proc.stdout], [], [], timeout_s)
            if not ready:
                raise KernelStartError("the warm parent did not answer in time")
        line = self._proc.stdout.readline()
        if not line:
            raise KernelStartError("the warm parent exited")
        return json.loads(line)

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        request = json.dumps({"argv": argv, "env": dict(env), "cwd": str(cwd)}) + "\n"
        with self._lock:
            if self._proc.poll() is not None:
                raise KernelStartError("the warm parent is not running")
            self._proc.stdin.write(request.encode())
            self._proc.stdin.flush()
            return int(self._read_reply(60)["pid"])

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - never leave it behind
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()

    def __enter__(self) -> "WarmParent":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ForkedProcess:
    """What jupyter_client's LocalProvisioner needs of a ``Popen``, for a forked kernel.

    The kernel is the warm parent's child, not ours: liveness comes from a pidfd (Linux),
    which also sees a process that has exited but is not yet reaped.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                self.returncode = 0

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if self._pidfd is not None:
            import select
            ready, _, _ = select.select([self._pidfd], [], [], 0)
            if ready:
                self._done()
        else:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self._done()
        return self.returncode

    def _done(self) -> None:
        self.returncode = 0  # the exit status belongs to the warm parent, which reaps it
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def wait(self, timeout: float | None = None) -> int:
        import time
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def kernel_manager_class(trace_file: Path, warm_parent: WarmParent | None = None):
    """A jupyter_client kernel manager class for one notebook run.

    Its kernel writes its :class:`KernelTrace` to ``trace_file``; with ``warm_parent`` it
    is forked from there, otherwise started as a fresh traced process.
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ForkingProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd, **kwargs):
            # cmd is the kernelspec's: python -m ipykernel_launcher -f FILE [extra args]
            argv = cmd[cmd.index("-f"):]
            env = kwargs.get("env") or dict(os.environ)
            cwd = kwargs.get("cwd") or os.getcwd()
            self.process = _ForkedProcess(warm_parent.fork(argv, env, cwd))
            self.pid = self.pgid = self.process.pid
            self.cwd = cwd
            return self.connection_info

    class TracedKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            env = dict(kw.pop("env", None) or os.environ)
            env[TRACE_ENV] = str(trace_file)
            env.setdefault(ROOT_ENV, str(kw.get("cwd") or os.getcwd()))
            kw["env"] = env
            if warm_parent is not None and self.provisioner is None:
                self.provisioner = ForkingProvisioner(kernel_id=self.kernel_id or "",
                                                      kernel_spec=self.kernel_spec, parent=self)
            return await super()._async_pre_start_kernel(**kw)

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            if warm_parent is None and "ipykernel_launcher" in cmd:
                i = cmd.index("ipykernel_launcher")
                cmd = [*cmd[:i], "bpsreport.kernels", "kernel", *cmd[i + 1:]]
            return cmd

    return TracedKernelManager


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["warm-parent"]:
        warm_parent_main()
    elif argv[:1] == ["kernel"]:
        kernel_main(argv[1:])
    else:
        print("usage: python -m bpsreport.kernels warm-parent | kernel -f CONNECTION_FILE",
              file=sys.stderr)
        sys.exit(64)


if __name__ == "__main__":
    main()
