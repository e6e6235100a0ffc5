"""YAML reading with libyaml's C parser when PyYAML has it (``yaml.CSafeLoader``).

The same safe subset as ``yaml.safe_load`` (no Python objects), ten times faster: the
build and its post-render step read ``_variables.yml`` (about 80 KB) several times, which
with the pure-Python parser was most of a narrative edit's rebuild.
"""

from __future__ import annotations

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(stream):
    """``yaml.safe_load``, with the C parser when available.

    When the text is not valid YAML the pure-Python parser reads it again, so the error
    (and the line and column it names) is exactly what ``yaml.safe_load`` reports: libyaml
    places some problems a line or two away from where an editor should look.
    """
    if _LOADER is yaml.SafeLoader:
        return yaml.safe_load(stream)
    if not isinstance(stream, (str, bytes)):
        stream = stream.read()
    try:
        return yaml.load(stream, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return yaml.safe_load(stream)
