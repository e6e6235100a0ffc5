"""The Quarto project configuration as the built-in renderer sees it.

``_quarto.yml`` merged with ``_quarto-<profile>.yml`` by Quarto's own rules (see
:func:`merge_config`: maps merge, scalars replace, lists are concatenated without
duplicates), plus ``_variables.yml``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bpsreport.render import RenderError
from bpsreport import yamlio


@dataclass
class ProjectConfig:
    root: Path
    profile: str
    config: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)

    # -- convenience views of the merged config ------------------------------------
    @property
    def lang(self) -> str:
        return str(self.config.get("lang") or self.profile or "en")

    @property
    def output_dir(self) -> Path:
        out = (self.config.get("project") or {}).get("output-dir") or "_site"
        return self.root / out

    @property
    def render_globs(self) -> list[str]:
        return list((self.config.get("project") or {}).get("render") or [])

    @property
    def website(self) -> dict:
        return self.config.get("website") or {}

    def format_options(self, target: str) -> dict:
        """Options of ``format: <target>`` (``html`` / ``typst``) at project level."""
        fmt = self.config.get("format") or {}
        if isinstance(fmt, str):
            return {}
        opts = fmt.get(target) or {}
        return opts if isinstance(opts, dict) else {}


def merge_config(base: object, over: object, key: str | None = None) -> object:
    """Merge ``over`` into ``base`` as Quarto merges a profile into ``_quarto.yml``.

    Quarto (``mergeProjectMetadata`` → lodash ``mergeWith`` + ``mergeArrayCustomizer``):
    maps merge key by key; scalars of ``over`` replace; when either side is a list the two
    are **concatenated** (a scalar counts as a one-item list) and duplicates dropped; an
    empty/missing side yields the other. ``contents`` given as a string is replaced, not
    concatenated. So a list such as ``website.navbar.left`` must live in the profile
    only, or it appears twice.
    """
    if isinstance(base, list) or isinstance(over, list):
        if key == "contents" and isinstance(base, str):
            return copy.deepcopy(over)
        if not base:
            return copy.deepcopy(over)
        if not over:
            return copy.deepcopy(base)
        combined = (base if isinstance(base, list) else [base]) + \
            (over if isinstance(over, list) else [over])
        out, seen = [], set()
        for item in combined:
            marker = json.dumps(item, sort_keys=False, ensure_ascii=False, default=str)
            if marker not in seen:
                seen.add(marker)
                out.append(copy.deepcopy(item))
        return out
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy.deepcopy(base)
        for k, value in over.items():
            out[k] = merge_config(out[k], value, k) if k in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yamlio.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RenderError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RenderError(f"{path}: expected a YAML mapping at the top level")
    return data


def load_project(root: Path, profile: str) -> ProjectConfig:
    """Read ``_quarto.yml``, merge ``_quarto-<profile>.yml`` over it, read ``_variables.yml``."""
    root = Path(root).resolve()
    base_file = root / "_quarto.yml"
    if not base_file.exists():
        raise RenderError(f"{base_file}: no Quarto project file found")
    config = read_yaml(base_file)
    if profile:
        prof_file = root / f"_quarto-{profile}.yml"
        if not prof_file.exists():
            raise RenderError(f"{prof_file}: profile {profile!r} has no configuration file")
        config = merge_config(config, read_yaml(prof_file))
    var_file = root / "_variables.yml"
    variables = read_yaml(var_file) if var_file.exists() else {}
    return ProjectConfig(root=root, profile=profile, config=config, variables=variables)
