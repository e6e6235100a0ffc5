"""The command line: help a clerk can follow, exit codes, --quiet/--verbose, the build log.

Cheap paths run on a scratch copy of data/raw and config (``project_copy``); the failures
of later stages are provoked by replacing a stage function, so that each exit code is
checked without a slow build. One session-scoped copy of the whole project, built once,
serves the tests that need a real build (output levels, the log file).
"""

from __future__ import annotations

import fcntl
import re
import shutil
from pathlib import Path

import pytest

from bpsreport.cli import EXIT_CODES, build_parser, main
from bpsreport.errors import FontMissingError, InputProblem, InputValidationError

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("data/raw", "config", "notebooks", "reports", "templates", "scripts")
OUTPUTS = ("data/clean", "build/gd-province", "_site")
LOG_LINE = re.compile(r"(build/logs/build-[\w.-]+\.log)")


def copy_project(dest: Path, *, with_outputs: bool) -> Path:
    """The inputs of a build (and, to start warm, the outputs of the checkout's last build:
    each stage re-checks its inputs by content, so stale outputs are simply rebuilt)."""
    for name in INPUTS:
        shutil.copytree(ROOT / name, dest / name)
    for f in ROOT.glob("_quarto*.yml"):
        shutil.copy2(f, dest / f.name)
    if with_outputs:
        for name in OUTPUTS:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, dest / name, dirs_exist_ok=True)
        if (ROOT / "_variables.yml").is_file():
            shutil.copy2(ROOT / "_variables.yml", dest / "_variables.yml")
    return dest


@pytest.fixture(scope="session")
def built_project(tmp_path_factory, edition_2017) -> Path:
    """A copy of the project whose 2017 build is current (one build per test session)."""
    dest = tmp_path_factory.mktemp("cli") / "project"
    # Under the checkout's build lock: no build of the checkout runs while copying.
    with open(ROOT / "build" / ".test-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        copy_project(dest, with_outputs=True)
    assert main(["--root", str(dest), "build", "--year", "2017", "--quiet"]) == 0
    return dest


def log_of(output: str, root: Path) -> Path:
    found = LOG_LINE.findall(output)
    assert found, f"no log path in the output:\n{output[-2000:]}"
    path = root / found[-1]
    assert path.is_file(), path
    return path


# --- help ----------------------------------------------------------------------------------

def test_help_lists_the_clerks_commands_in_order_with_examples_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    steps = [text.index(f"{n}. {cmd}") for n, cmd in ((1, "build"), (2, "check"), (3, "new-year"))]
    assert steps == sorted(steps)
    for command in ("build", "check", "new-year", "preview", "validate"):
        assert re.search(rf"^\s+{command}\s+\S", text, re.M), command
    assert "pipeline.py build --year 2017" in text and "pipeline.py new-year 2018" in text
    assert "常用命令" in text  # bilingual
    for code in EXIT_CODES:
        assert re.search(rf"\b{code}\b", text.split("exit codes")[1]), code


@pytest.mark.parametrize("command, options", [
    ("build", ["--year", "--unit", "--renderer", "--quiet", "--verbose", "--wait", "--no-wait"]),
    ("check", ["--year", "--unit", "--quiet", "--verbose"]),
    ("new-year", ["YEAR", "--unit", "--wait", "--no-wait"]),
    ("preview", ["--year", "--port", "--renderer"]),
    ("validate", ["--quiet", "--verbose"]),
])
def test_each_command_help_names_its_options(command, options, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for option in options:
        assert option in text, (command, option)


def test_every_option_has_help_text():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    parsers = {"pipeline.py": parser, **sub.choices}
    for name, p in parsers.items():
        for action in p._actions:
            if action.dest in ("help", "command"):
                continue
            where = (name, action.option_strings or action.dest)
            assert action.help and len(action.help) > 10, where


def test_exit_codes_are_documented_in_the_readme():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", text, re.M), code


# --- exit codes ---------------------------------------------------------------------------------

def test_validate_exits_0_on_the_real_data(project_copy, capsys):
    assert main(["--root", str(project_copy), "validate"]) == 0
    assert "All raw files are valid" in capsys.readouterr().out


@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_bad_raw_file_exits_2_naming_file_row_column_and_logs_it(project_copy, capsys):
    bad = project_copy / "data/raw/observations/gd-province/2017/employment_security.csv"
    bad.write_text(bad.read_text(encoding="utf-8").replace("148.9", "148.9万", 1), encoding="utf-8")
    assert main(["--root", str(project_copy), "build", "--year", "2017", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "employment_security.csv" in err and "148.9万" in err
    log = log_of(err, project_copy).read_text(encoding="utf-8")
    assert "148.9万" in log and "employment_security.csv" in log
    assert not (project_copy / "data" / "clean" / "gd-province").exists()


def test_quarto_requested_but_missing_exits_3_before_any_work(project_copy, monkeypatch, capsys):
    monkeypatch.setattr("bpsreport.render.find_quarto", lambda: None)
    build = ["--root", str(project_copy), "build", "--year", "2017", "--renderer", "quarto"]
    assert main(build) == 3
    err = capsys.readouterr().err
    assert "quarto" in err.lower() and "--renderer builtin" in err
    assert not (project_copy / "data" / "clean").exists()  # stopped before the data stage
    preview = ["--root", str(project_copy), "preview", "--year", "2017", "--renderer", "quarto"]
    assert main(preview) == 3


def test_a_taken_preview_port_exits_3_before_building(project_copy, capsys):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert main(["--root", str(project_copy), "preview", "--year", "2017", "--port", port,
                     "--renderer", "builtin"]) == 3
    assert "--port" in capsys.readouterr().err
    assert not (project_copy / "data" / "clean").exists()


def _raise(exc):
    def stage(*args, **kwargs):
        raise exc
    return stage


def _notebook_failed():
    from bpsreport.notebooks import NotebookFailed
    return NotebookFailed([], 11)


def _render_error():
    from bpsreport.render import RenderError
    return RenderError("reports/2017/zh/index.qmd:3: something is not supported")


def _pdf_font_missing():
    from bpsreport.render.pdf import PdfFontMissing
    return PdfFontMissing("no font can draw 中文")


def _kernel_error():
    from bpsreport.notebooks import NotebookKernelError
    return NotebookKernelError("the python3 kernel runs another Python")


@pytest.mark.parametrize("make_exc, code", [
    (lambda: InputValidationError([InputProblem("data/raw/x.csv", None, 2, "value", "x",
                                                "a number")]), 2),
    (lambda: FontMissingError("no CJK font"), 3),
    (_kernel_error, 3),
    (_pdf_font_missing, 3),
    (lambda: ModuleNotFoundError("No module named 'typst'", name="typst"), 3),
    (_notebook_failed, 4),
    (_render_error, 5),
    (KeyboardInterrupt, 130),
    (lambda: RuntimeError("boom"), 1),
])
@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_each_kind_of_failure_has_its_exit_code(make_exc, code, project_copy, monkeypatch, capsys):
    monkeypatch.setattr("bpsreport.build.build_clean", _raise(make_exc()))
    assert main(["--root", str(project_copy), "build", "--year", "2017"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "build/logs/build-gd-province-2017-" in err  # every failure says where the log is


@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_unexpected_error_exits_1_with_a_short_message_and_the_log_path(project_copy, monkeypatch,
                                                                        capsys):
    monkeypatch.setattr("bpsreport.build.build_clean", _raise(RuntimeError("boom 42")))
    assert main(["--root", str(project_copy), "build", "--year", "2017"]) == 1
    err = capsys.readouterr().err
    assert "Unexpected error" in err and "boom 42" in err and "--verbose" in err
    assert "Traceback" not in err
    log = log_of(err, project_copy).read_text(encoding="utf-8")
    assert "Traceback" in log and "RuntimeError: boom 42" in log

    assert main(["--root", str(project_copy), "build", "--year", "2017", "--verbose"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_unexpected_error_in_another_command_still_leaves_a_log(project_copy, monkeypatch, capsys):
    monkeypatch.setattr("bpsreport.ingest.ingest_all", _raise(RuntimeError("validate broke")))
    assert main(["--root", str(project_copy), "validate"]) == 1
    err = capsys.readouterr().err
    found = re.findall(r"(build/logs/error-validate-[\w.-]+\.log)", err)
    assert found and "validate broke" in (project_copy / found[0]).read_text(encoding="utf-8")


@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_missing_edition_year_is_an_input_problem(project_copy, capsys):
    assert main(["--root", str(project_copy), "build", "--year", "2031", "--quiet"]) == 2
    assert "2031" in capsys.readouterr().err
    # Without --year the newest folder in reports/ is built; this copy has none.
    assert main(["--root", str(project_copy), "build"]) == 2
    err = capsys.readouterr().err
    assert "--year" in err and "new-year" in err and "Traceback" not in err


# --- check and new-year --------------------------------------------------------------------------

def test_check_exit_code_follows_blocking_findings(project_copy, monkeypatch, capsys):
    check = pytest.importorskip("bpsreport.check")
    (project_copy / "reports" / "2018").mkdir(parents=True)
    found = {"findings": [check.Finding("reports/2018/zh/index.qmd", 4, "error", "var-unknown",
                                        "no data variable y2018.x")]}
    monkeypatch.setattr(check, "run_checks", lambda root, year, unit_id=None, department=None: found["findings"])
    assert main(["--root", str(project_copy), "check"]) == 6  # default year: newest in reports/
    out = capsys.readouterr().out
    assert "reports/2018/zh/index.qmd\n  4: error: var-unknown" in out and "2018" in out
    assert "1 error (错误), 0 warnings (警告): 1 var-unknown." in out
    found["findings"] = [check.Finding("reports/2018/zh/index.qmd", 9, "warning", "figure-uncited",
                                       "not cited")]
    assert main(["--root", str(project_copy), "check", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "not cited" not in out and "1 warning (警告): 1 figure-uncited" in out
    found["findings"] = []
    assert main(["--root", str(project_copy), "check"]) == 0


def test_check_on_a_fixture_with_an_unknown_variable_exits_6(tmp_path, capsys):
    pytest.importorskip("bpsreport.check")
    fixtures = ROOT / "tests" / "fixtures" / "check"
    if not (fixtures / "cases" / "var-unknown").is_dir():
        pytest.skip("the check fixtures (tests/fixtures/check/) are not there")
    from bpsreport.build import build_clean
    from bpsreport.paths import ProjectPaths
    dest = tmp_path / "check"
    shutil.copytree(fixtures / "base", dest)
    build_clean(ProjectPaths.at(dest))
    assert main(["--root", str(dest), "check", "--year", "2018"]) == 0
    shutil.copytree(fixtures / "cases" / "var-unknown", dest, dirs_exist_ok=True)
    capsys.readouterr()
    assert main(["--root", str(dest), "check", "--year", "2018"]) == 6
    assert "var-unknown" in capsys.readouterr().out


@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_new_year_lists_created_then_existing_files(tmp_path, capsys):
    pytest.importorskip("bpsreport.edition")
    dest = tmp_path / "project"
    for name in ("data/raw", "config", "reports", "templates"):
        shutil.copytree(ROOT / name, dest / name)
    assert main(["--root", str(dest), "new-year", "2018"]) == 0
    first = capsys.readouterr().out
    assert "reports/2018/zh" in first and "0 already there" in first
    assert main(["--root", str(dest), "new-year", "2018", "--quiet"]) == 0
    again = capsys.readouterr().out.strip().splitlines()
    assert len(again) == 1 and re.search(r"\b0 created, [1-9]\d* already there", again[0])


# --- output levels and the log (one real build) ---------------------------------------------

def test_quiet_prints_only_the_final_line(built_project, capsys):
    assert main(["--root", str(built_project), "build", "--year", "2017"]) == 0
    default = capsys.readouterr().out
    assert main(["--root", str(built_project), "build", "--year", "2017", "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "1. Data" in default and "已完成" in default and "unchanged" in default
    assert len(quiet) < len(default) / 5
    lines = quiet.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Built gd-province 2017")
    assert "build/logs/build-gd-province-2017-" in lines[0]


def test_log_holds_the_verbose_output_whatever_the_console_level(built_project, capsys):
    # Forget the raw-data fingerprint: every raw file is read (and found unchanged) again.
    (built_project / "data" / "clean" / "build-state.json").unlink()
    assert main(["--root", str(built_project), "build", "--year", "2017"]) == 0
    out = capsys.readouterr().out
    read_line = "read data/raw/observations/gd-province/2017/education.csv"
    assert read_line not in out  # verbose only
    log = log_of(out, built_project).read_text(encoding="utf-8")
    assert read_line in log
    for expected in ("pipeline.py --root", "1. Data", "4. Site and PDFs", "Built gd-province 2017"):
        assert expected in log, expected

    (built_project / "data" / "clean" / "build-state.json").unlink()
    assert main(["--root", str(built_project), "build", "--year", "2017", "--verbose"]) == 0
    assert read_line in capsys.readouterr().out


def test_each_build_gets_its_own_log(built_project, capsys):
    assert main(["--root", str(built_project), "build", "--year", "2017", "--quiet"]) == 0
    first = log_of(capsys.readouterr().out, built_project)
    assert main(["--root", str(built_project), "build", "--year", "2017", "--quiet"]) == 0
    second = log_of(capsys.readouterr().out, built_project)
    assert first != second and first.is_file() and second.is_file()


def test_progress_display_counts_notebooks_pages_and_pdfs():
    """The reporter's step lines, as printed in a pipe (no progress bar there)."""
    import io

    from rich.console import Console

    from bpsreport.progress_display import NORMAL, VERBOSE, Reporter

    for level, pages_shown in ((NORMAL, False), (VERBOSE, True)):
        buf = io.StringIO()
        rep = Reporter(level, out=Console(file=buf, width=200), err=Console(file=io.StringIO()),
                       live=False)
        with rep.steps("render") as steps:
            steps.begin("PDFs", 2)
            steps.advance("report-zh.pdf", line="   PDF 1/2: report-zh.pdf")
            steps.begin("pages", 1)
            steps.advance("zh/index.html", line="   page zh/index.html", level=VERBOSE)
        assert steps.done == 1 and steps.total == 1
        text = buf.getvalue()
        assert "PDF 1/2: report-zh.pdf" in text
        assert ("page zh/index.html" in text) is pages_shown

