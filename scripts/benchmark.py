#!/usr/bin/env python3
"""Time the pipeline's stages; the figures go into the README.

Runs in a scratch copy of the project, so the working tree is never touched:

    .venv/bin/python scripts/benchmark.py            # all stages
    .venv/bin/python scripts/benchmark.py --repeat 5

Stages timed (median of --repeat runs, wall clock):
  clean (cold)      validate data/raw and write data/clean from nothing
  clean (warm)      the same with nothing changed (manifests say all is current)
  validate (synthetic) many SYNTHETIC submissions (one value per indicator per made-up
                    year), to show how validation scales; the data never leaves tmp
  build (cold/warm) the whole `pipeline.py build --year 2017`, when later stages exist
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpsreport.build import build_clean  # noqa: E402
from bpsreport.catalog import load_catalog  # noqa: E402
from bpsreport.ingest import ingest_all  # noqa: E402
from bpsreport.limits import load_limits  # noqa: E402
from bpsreport.paths import ProjectPaths  # noqa: E402


def _copy_project(dest: Path) -> Path:
    for name in ("data/raw", "config", "notebooks", "reports", "templates"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name)
    for name in ("_quarto.yml", "_quarto-zh.yml", "_quarto-en.yml"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _synthetic_submission(root: Path, years: int) -> None:
    """Write SYNTHETIC submissions: one actual per indicator for `years` made-up years.

    The years are the last ones config/limits.yml allows (2051-2100 for 50), which no real
    edition uses.
    """
    catalog = load_catalog(root / "data" / "raw", root=root)
    base = root / "data" / "raw" / "observations" / catalog.default_unit
    last = load_limits(root).last_year
    for year in range(last - years + 1, last + 1):
        (base / str(year)).mkdir(parents=True)
        for domain_id in catalog.domain_ids():
            inds = catalog.indicators[catalog.indicators["domain_id"] == domain_id]
            lines = ["indicator_id,year,measure,target_type,value,unit,source,derived,formula,note"]
            lines += [f"{i},{year},actual,,1,{row['unit']},SYNTHETIC benchmark data,no,,synthetic"
                      for i, row in inds.iterrows()]
            (base / str(year) / f"{domain_id}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--synthetic-years", type=int, default=50,
                        help="made-up years of SYNTHETIC submissions for the scaling run")
    args = parser.parse_args()
    results: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = _copy_project(Path(tmp) / "project")
        paths = ProjectPaths.at(root)

        def cold():
            shutil.rmtree(paths.clean, ignore_errors=True)
            build_clean(paths)
        results.append(("clean data, cold (all units and years)", _time(cold, args.repeat), ""))
        results.append(("clean data, warm (nothing changed)", _time(lambda: build_clean(paths), args.repeat), ""))

        if (ROOT / "notebooks").exists() and (ROOT / "_quarto.yml").exists():
            cmd = [sys.executable, str(ROOT / "pipeline.py"), "--root", str(root), "build", "--year", "2017"]
            env = dict(os.environ, COLUMNS="200")

            def full():
                subprocess.run(cmd, check=True, capture_output=True, env=env)
            shutil.rmtree(root / "build", ignore_errors=True)
            shutil.rmtree(root / "_site", ignore_errors=True)
            results.append(("full build 2017, cold", _time(full, 1), "notebooks, site, PDFs"))
            results.append(("full build 2017, warm (nothing changed)", _time(full, args.repeat), ""))

        synth = _copy_project(Path(tmp) / "synthetic")
        _synthetic_submission(synth, args.synthetic_years)
        catalog = load_catalog(synth / "data" / "raw", root=synth)
        n_files = len(list((synth / "data/raw/observations").rglob("*.csv")))
        n_rows = sum(sum(1 for _ in open(p, encoding="utf-8")) - 1
                     for p in (synth / "data/raw/observations").rglob("*.csv"))
        t = _time(lambda: ingest_all(synth / "data" / "raw", catalog, root=synth), args.repeat)
        results.append((f"validate SYNTHETIC submission ({n_rows} rows, {n_files} files)", t,
                        f"{n_rows / t:,.0f} rows/s"))

    print(f"| stage | median of {args.repeat} (s) | note |")
    print("| --- | ---: | --- |")
    for name, seconds, note in results:
        print(f"| {name} | {seconds:.2f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
