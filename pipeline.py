#!/usr/bin/env python3
"""Command line of the report pipeline; all logic lives in the bpsreport package.

    python pipeline.py build --year 2017     validate data/raw, build the site and the PDFs
    python pipeline.py check --year 2018     list what blocks publication, with file:line
    python pipeline.py new-year 2018         start the next edition and department templates
    python pipeline.py preview               serve the site locally, rebuild on save
    python pipeline.py validate              only list problems in data/raw

Run `python pipeline.py --help` for the options; exit codes are listed in the README.
"""

import sys

from bpsreport.cli import main

if __name__ == "__main__":
    sys.exit(main())
