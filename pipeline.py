#!/usr/bin/env python3
"""Command line of the report pipeline; all logic lives in the bpsreport package.

    python pipeline.py build --year 2017     validate data/raw, write data/clean, build the edition
    python pipeline.py validate              only list problems in data/raw
"""

import sys

from bpsreport.cli import main

if __name__ == "__main__":
    sys.exit(main())
