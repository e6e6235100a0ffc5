"""data/clean is trusted only when it matches its manifests, and a build killed while
writing it leaves nothing that the next build trusts or keeps.

Every test works on a scratch copy of data/raw and config (the data stage only; the
whole build is killed and recovered in test_kill_build.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bpsreport import clean_store
from bpsreport.build import STATE_FILE, build_clean
from bpsreport.cli import main
from bpsreport.paths import ProjectPaths
from bpsreport.project_lock import ProjectLock, find_leftovers

# Builds clean data and kills builds in subprocesses: end-to-end (slow).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
UNIT, YEAR = "gd-province", 2017


def tables(clean: Path) -> dict[str, str]:
    """Hashes of every clean table (Parquet and CSV): what readers of data/clean use."""
    return {p.relative_to(clean).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(clean.rglob("*")) if p.suffix in (".parquet", ".csv")}


def dot_entries(clean: Path) -> list[str]:
    """Hidden names anywhere in data/clean: temporary folders and files of a writer."""
    return sorted(p.relative_to(clean).as_posix() for p in clean.rglob(".*"))


@pytest.fixture(scope="module")
def clean_once(tmp_path_factory) -> Path:
    """data/clean built once from the real data/raw (copied into each test's project)."""
    root = tmp_path_factory.mktemp("clean-once")
    shutil.copytree(ROOT / "data" / "raw", root / "data" / "raw")
    shutil.copytree(ROOT / "config", root / "config")
    result = build_clean(ProjectPaths.at(root))
    assert result.mismatches == []
    return root / "data" / "clean"


@pytest.fixture
def built(project_copy, clean_once):
    shutil.copytree(clean_once, project_copy / "data" / "clean")
    # Copied, it is what the build wrote: trusted and current.
    assert not any(e.rewritten for e in build_clean(ProjectPaths.at(project_copy)).editions.values())
    return project_copy


# --- tampered clean data -------------------------------------------------------------------------

def _edit_csv(folder: Path) -> Path:
    """The last character of the first data row changed, as a person might in Excel."""
    path = sorted(folder.glob("*.csv"))[0]
    header, first, rest = path.read_text(encoding="utf-8-sig").split("\n", 2)
    first = first[:-1] + ("1" if first[-1:] != "1" else "2")
    path.write_text("\n".join([header, first, rest]), encoding="utf-8-sig")
    return path


def _truncate_parquet(folder: Path) -> Path:
    path = sorted(folder.glob("*.parquet"))[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _delete_table(folder: Path) -> Path:
    path = sorted(folder.glob("*.csv"))[-1]
    path.unlink()
    return path


def _add_stray_table(folder: Path) -> Path:
    original = sorted(folder.glob("*.parquet"))[0]
    path = folder / f"{original.stem} (copy).parquet"
    shutil.copy2(original, path)
    return path


def _delete_manifest(folder: Path) -> Path:
    path = folder / clean_store.MANIFEST
    path.unlink()
    return path


def _break_manifest(folder: Path) -> Path:
    path = folder / clean_store.MANIFEST
    path.write_text(path.read_text(encoding="utf-8")[:40], encoding="utf-8")
    return path


def _edit_manifest_entry(folder: Path) -> Path:
    """The manifest itself altered to list a file under another name."""
    path = folder / clean_store.MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["outputs"][0]["path"] = "../../catalog/domains.csv"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


TAMPERINGS = {
    "a value edited in a CSV": (_edit_csv, "was changed after the build wrote it"),
    "a Parquet file truncated": (_truncate_parquet, "was changed after the build wrote it"),
    "a table deleted": (_delete_table, "is missing"),
    "a stray table added": (_add_stray_table, "is not one of the files the build wrote"),
    "the manifest deleted": (_delete_manifest, "is missing or unreadable"),
    "the manifest cut short": (_break_manifest, "is missing or unreadable"),
    "the manifest pointing outside": (_edit_manifest_entry, "has an unreadable entry"),
}


@pytest.mark.parametrize("where, how", [("edition", how) for how in TAMPERINGS] + [
    ("catalog", "a value edited in a CSV"), ("catalog", "a table deleted"),
    ("catalog", "the manifest deleted")])
def test_tampered_clean_data_is_rebuilt_from_raw_naming_the_file(built, how, where):
    clean = built / "data" / "clean"
    before = tables(clean)
    folder = clean / UNIT / str(YEAR) if where == "edition" else clean / "catalog"
    tamper, problem = TAMPERINGS[how]
    path = tamper(folder)

    result = build_clean(ProjectPaths.at(built))

    assert [m.path for m in result.mismatches] == [path]
    assert problem in result.mismatches[0].problem
    assert tables(clean) == before                       # rebuilt exactly as it was
    assert dot_entries(clean) == []
    assert clean_store.verify_folder(folder) == []
    rewritten = {key for key, e in result.editions.items() if e.rewritten}
    assert rewritten == ({(UNIT, YEAR)} if where == "edition" else set())
    # Trusted again: the next build validates nothing and rewrites nothing.
    again = build_clean(ProjectPaths.at(built))
    assert again.mismatches == [] and not any(e.rewritten for e in again.editions.values())


def test_a_deleted_clean_set_is_rebuilt_naming_it(built):
    clean = built / "data" / "clean"
    before = tables(clean)
    shutil.rmtree(clean / UNIT / str(YEAR))
    result = build_clean(ProjectPaths.at(built))
    assert [(m.path, m.problem) for m in result.mismatches] == [(clean / UNIT / str(YEAR), "is missing")]
    assert tables(clean) == before


def test_a_self_consistent_folder_put_in_place_by_hand_is_not_trusted(built):
    """A whole clean set replaced by another (its manifest matches its files) is rebuilt."""
    clean = built / "data" / "clean"
    before = tables(clean)
    target = clean / UNIT / str(YEAR)
    shutil.rmtree(target)
    shutil.copytree(clean / UNIT / str(YEAR + 1), target)
    assert clean_store.verify_folder(target) == []

    result = build_clean(ProjectPaths.at(built))
    assert result.editions[(UNIT, YEAR)].rewritten
    assert tables(clean) == before


def test_the_build_warns_about_the_tampered_file_and_carries_on(built, capsys):
    path = _edit_csv(built / "data" / "clean" / UNIT / str(YEAR))
    # 2031 has no raw data: the build repairs data/clean at stage 1, then stops (exit 2).
    assert main(["--root", str(built), "build", "--year", "2031"]) == 2
    err = capsys.readouterr().err
    assert f"data/clean/{UNIT}/{YEAR}/{path.name} was changed after the build wrote it" in err
    assert "rebuilt from data/raw" in err
    assert clean_store.verify_folder(path.parent) == []


def test_reading_a_tampered_clean_set_outside_the_build_is_refused(built):
    path = _edit_csv(built / "data" / "clean" / UNIT / str(YEAR))
    with pytest.raises(clean_store.CleanDataChanged, match=f"{path.name} was changed"):
        clean_store.load_edition(built / "data" / "clean", UNIT, YEAR)


def test_the_catalog_has_a_manifest_of_its_own(built):
    folder = built / "data" / "clean" / "catalog"
    manifest = json.loads((folder / clean_store.MANIFEST).read_text(encoding="utf-8"))
    listed = {o["path"] for o in manifest["outputs"]}
    assert listed == {p.name for p in folder.iterdir()} - {clean_store.MANIFEST}
    assert {"indicators.parquet", "indicators.csv"} <= listed


# --- a build killed while writing data/clean -----------------------------------------------------

# Runs the data stage holding the project lock, and kills itself (SIGKILL) at one point.
KILLED_BUILD = r"""
import os, signal, sys
from bpsreport import build, clean_store
from bpsreport.paths import ProjectPaths
from bpsreport.project_lock import ProjectLock

root, point = sys.argv[1], sys.argv[2]
match = sys.argv[3] if len(sys.argv) > 3 else ""


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


if point == "filling":          # after the first table of a clean set (folder name starts with match)
    write_table = clean_store._write_table
    def _write_table(frame, folder, name):
        out = write_table(frame, folder, name)
        if folder.name.startswith(match):
            die()
        return out
    clean_store._write_table = _write_table
elif point == "swapped":        # the new set is in place; the set it replaced is not yet removed
    clean_store._discard = die
elif point == "after-edition":  # one clean set rewritten, the others not yet
    write_edition = clean_store.write_edition
    def _write_edition(*args, **kwargs):
        out = write_edition(*args, **kwargs)
        die()
    clean_store.write_edition = _write_edition
elif point == "state":          # everything written but the state file
    replace = os.replace
    def _replace(src, dst, *args, **kwargs):
        if str(dst).endswith("build-state.json"):
            die()
        return replace(src, dst, *args, **kwargs)
    os.replace = _replace

ProjectLock(root, "kill test: " + point).acquire()
build.build_clean(ProjectPaths.at(root))
sys.exit("the build was not killed at " + point)
"""


def run_killed_build(root: Path, point: str, match: str = "") -> int:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(root), point, match],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == -9, err   # killed, not finished or failed
    return proc.pid


def _force_rewrite(root: Path) -> None:
    """Change the rules file without changing a rule: every clean set is rewritten, the
    same as before."""
    status = root / "config" / "status.yml"
    status.write_text(status.read_text(encoding="utf-8") + "\n# touched by a test\n",
                      encoding="utf-8")


KILL_POINTS = {
    "while filling a clean set": ("filling", f".{YEAR}.new-"),
    "while filling the catalog": ("filling", ".catalog.new-"),
    "between swapping a set in and removing the old one": ("swapped", ""),
    "before the state file is replaced": ("state", ""),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_build_killed_writing_clean_data_is_recovered_by_the_next(built, point):
    clean = built / "data" / "clean"
    before = tables(clean)
    _force_rewrite(built)
    pid = run_killed_build(built, *KILL_POINTS[point])
    left = find_leftovers(built)
    assert left, "the kill left nothing behind: it did not happen where this test aims"
    assert not (clean / STATE_FILE).exists()     # nothing vouches for a half-written data/clean

    with ProjectLock(built, "recovery") as lock:
        assert lock.stale is not None and lock.stale.pid == pid
        assert lock.remove_leftovers() == left
        result = build_clean(ProjectPaths.at(built))
    assert result.mismatches == []
    assert dot_entries(clean) == [] and find_leftovers(built) == []
    assert tables(clean) == before
    for folder in [clean / "catalog", *(e.folder for e in result.editions.values())]:
        assert clean_store.verify_folder(folder) == []


def test_a_half_finished_rewrite_is_not_taken_for_the_last_finished_build(built):
    """Raw data changed, the build was killed after rewriting one set, the change was
    undone: the next build must not keep the set made from the undone change."""
    clean = built / "data" / "clean"
    before = tables(clean)
    raw = built / "data/raw/observations/gd-province/2017/employment_security.csv"
    original = raw.read_text(encoding="utf-8")
    raw.write_text(original.replace("148.9", "150.2", 1), encoding="utf-8")
    run_killed_build(built, "after-edition")
    changed = pd.read_parquet(clean / UNIT / str(YEAR) / "observations.parquet")
    assert (changed["value"] == 150.2).any()      # the killed build wrote the changed set
    raw.write_text(original, encoding="utf-8")     # ... and the change is undone

    with ProjectLock(built, "recovery") as lock:
        lock.remove_leftovers()
        result = build_clean(ProjectPaths.at(built))
    assert result.editions[(UNIT, YEAR)].rewritten
    assert tables(clean) == before


# --- writers that do not take the lock ------------------------------------------------------------

# Rewrites one clean set over and over (no lock): two of these run at once.
REWRITER = r"""
import sys
import pandas as pd
from bpsreport import clean_store
clean, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    frame = pd.DataFrame({"writer": [sys.argv[3]] * 50, "i": range(50)})
    clean_store.write_edition(clean, "race", 2015, {"observations": frame}, [], config_hash="x")
print("done", flush=True)
"""


def test_two_writers_of_the_same_clean_set_do_not_trip_over_each_other(tmp_path):
    """The race of issue 12 (FileNotFoundError on .2015.old-…) even without the lock."""
    clean = tmp_path / "data" / "clean"
    procs = [subprocess.Popen([sys.executable, "-c", REWRITER, str(clean), "40", name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and out.strip() == "done", err
    assert clean_store.verify_folder(clean / "race" / "2015") == []
    assert dot_entries(clean) == []
