"""Guangdong basic public services equalization report pipeline.

Stages (one module each): ``catalog`` and ``ingest`` read and validate ``data/raw/``;
``progress`` assesses indicators against targets; ``clean_store`` writes ``data/clean/``.
"""

__version__ = "0.2.0"  # bump when clean data written by older code must be rebuilt
