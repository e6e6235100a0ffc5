"""The one visual style: the status palette (shared by charts and tables), fonts, theme.

The palette and status labels are data in ``config/status.yml``; this module only
reads them, so a chart and a table can never disagree on what "not met" looks like.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import FontMissingError
from .progress import TargetStatus, load_status_config
from bpsreport import yamlio


@dataclass(frozen=True)
class StatusStyle:
    status: TargetStatus
    label_zh: str
    label_en: str
    fill: str
    text: str

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


@lru_cache(maxsize=1)
def status_styles() -> dict[TargetStatus, StatusStyle]:
    """Label and colours per status, in display order (best first)."""
    config = load_status_config()["statuses"]
    return {
        s: StatusStyle(s, config[s.value]["zh"], config[s.value]["en"],
                       config[s.value]["fill"], config[s.value]["text"])
        for s in TargetStatus
    }


def status_fill(status: str | TargetStatus) -> str:
    return status_styles()[TargetStatus(status)].fill


def status_label(status: str | TargetStatus, lang: str) -> str:
    return status_styles()[TargetStatus(status)].label(lang)


# --- Fonts -------------------------------------------------------------------------------

FONTS_FILE = Path(__file__).resolve().parent.parent / "config" / "fonts.yml"


@dataclass(frozen=True)
class ChartFont:
    """The font family every chart is drawn with, and the file it was found in."""

    family: str
    path: Path
    face_index: int = 0


def load_font_config(path: Path = FONTS_FILE) -> dict:
    """``config/fonts.yml``: candidate families, probe text and install hint."""
    with open(path, encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


def font_covers(path: str | Path, text: str, face_index: int = 0) -> bool:
    """True when the font file (face ``face_index`` of a collection) has a glyph for every
    non-space character of ``text``."""
    from fontTools.ttLib import TTFont  # matplotlib's own dependency; loaded only for charts

    font = TTFont(str(path), fontNumber=face_index, lazy=True)
    try:
        cmap = font.getBestCmap() or {}
    finally:
        font.close()
    return all(ord(ch) in cmap for ch in text if not ch.isspace())


def _font_entries(family: str) -> list:
    """matplotlib's entries for a family name (regular weight, upright style first)."""
    from matplotlib import font_manager

    wanted = family.casefold()
    entries = [e for e in font_manager.fontManager.ttflist if e.name.casefold() == wanted]
    return sorted(entries, key=lambda e: (e.style != "normal", abs(int(e.weight) - 400), e.fname))


def _find_chart_font(families: tuple[str, ...], probe: str) -> ChartFont | None:
    for family in families:
        for entry in _font_entries(family):
            index = int(getattr(entry, "index", 0) or 0)
            try:
                covers = font_covers(entry.fname, probe, index)
            except Exception:  # an unreadable font file is simply not a candidate
                continue
            if covers:
                return ChartFont(entry.name, Path(entry.fname), index)
    return None


_rescanned = False


def _rescan_system_fonts() -> None:
    """Register fonts installed after matplotlib built its font cache (once per process)."""
    global _rescanned
    if _rescanned:
        return
    _rescanned = True
    from matplotlib import font_manager

    known = {e.fname for e in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # matplotlib skips unreadable files the same way
                continue


@lru_cache(maxsize=8)
def _configured_font(families: tuple[str, ...], probe: str, hint: str) -> ChartFont:
    found = _find_chart_font(families, probe)
    if found is None:
        _rescan_system_fonts()
        found = _find_chart_font(families, probe)
    if found is None:
        raise FontMissingError(
            "No font that can draw Chinese text was found for the charts. Tried, in order: "
            + ", ".join(families) + f" (the list is in {FONTS_FILE.parent.name}/{FONTS_FILE.name}). "
            + hint)
    return found


def configure_fonts(families: list[str] | tuple[str, ...] | None = None) -> ChartFont:
    """Find the chart font and make it matplotlib's font for everything drawn next.

    Parameters
    ----------
    families
        Candidate family names in order of preference; default ``chart_families`` from
        ``config/fonts.yml``.

    Returns
    -------
    ChartFont
        The first candidate that matplotlib finds and that covers the configured probe
        text (Chinese characters). Charts pass ``.family`` to their theme explicitly.

    Raises
    ------
    FontMissingError
        When no candidate is installed; the message says what to install. There is no
        fallback to a font without Chinese glyphs.

    Examples
    --------
    >>> configure_fonts().family                     # doctest: +SKIP
    'Noto Sans CJK SC'
    """
    import matplotlib

    config = load_font_config()
    chosen = tuple(families if families is not None else config["chart_families"])
    font = _configured_font(chosen, str(config["probe_text"]), " ".join(str(config["install_hint"]).split()))
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [font.family]
    # ASCII hyphen for minus signs: not every CJK font has U+2212 (it would draw as tofu).
    matplotlib.rcParams["axes.unicode_minus"] = False
    return font


# --- Chart theme ---------------------------------------------------------------------------

# Muted greys for everything that is not a status. Status colours come only from
# config/status.yml (status_fill); the neutral fill is for figures without a status.
INK = "#2B2B2B"          # titles, strip text, value labels
INK_MUTED = "#5F6368"    # axis text, notes
GRID = "#E3E5E8"         # light major grid
REFERENCE = "#4A4A4A"    # target / 100% reference marks
ZONE = "#EEF1F4"         # the area where a target counts as met
NEUTRAL_FILL = "#7A8794" # bars that carry no status (funding)

CHART_WIDTH_CM = 16.0    # A4 text width is about 15.6 cm; figures are scaled to fit
CHART_BASE_SIZE = 8.5    # points, at the printed size


def chart_theme(family: str, *, base_size: float = CHART_BASE_SIZE):
    """The report's one chart theme: white background, light grid, muted greys.

    Every text element, and matplotlib's default font while the plot is drawn, is
    ``family`` (from :func:`configure_fonts`): plotnine's own defaults would otherwise
    measure Chinese strip labels with a Latin-only font and misplace them.
    """
    from plotnine import element_blank, element_line, element_rect, element_text, theme, theme_minimal

    class _ReportTheme(theme_minimal):
        def __init__(self):
            super().__init__(base_size=base_size, base_family=family)
            # plotnine documents customising rcParams here, in a complete theme's __init__.
            self._rcParams["font.family"] = ["sans-serif"]
            self._rcParams["font.sans-serif"] = [family]
            self._rcParams["axes.unicode_minus"] = False

    return _ReportTheme() + theme(
        text=element_text(family=family, color=INK),
        plot_background=element_rect(fill="white", color="white"),
        panel_background=element_rect(fill="white", color="white"),
        panel_grid_major=element_line(color=GRID, size=0.4),
        panel_grid_minor=element_blank(),
        axis_text=element_text(color=INK_MUTED, size=base_size * 0.9),
        axis_title=element_text(color=INK_MUTED, size=base_size * 0.9),
        axis_ticks=element_blank(),
        # No left/right margin: plotnine scales strip margins by the line height, which
        # CJK fonts make large, and the label would drift away from the panel's left edge.
        strip_text=element_text(color=INK, size=base_size, ha="left", ma="left",
                                margin={"t": 2, "b": 2, "l": 0, "r": 0, "units": "pt"}),
        strip_background=element_blank(),
        legend_position="bottom",
        legend_title=element_blank(),
        legend_text=element_text(color=INK, size=base_size * 0.9),
        legend_key_size=9,
    )
