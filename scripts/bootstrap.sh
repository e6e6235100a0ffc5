#!/usr/bin/env bash
# Idempotent setup: virtual environment with the pinned packages, plus a CJK font.
# Re-running is cheap: the venv is only reinstalled when requirements.lock changes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"

say() { printf '[setup] %s\n' "$*" >&2; }

# 1. Python virtual environment with the pinned packages.
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  say "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1)). Install it, or set PYTHON=/path/to/python3.11."
  exit 3
fi
stamp=.venv/.lock-sha256
want="$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating .venv and installing the pinned packages (requirements.lock); log: .venv/install.log"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  pipi() { .venv/bin/python -m pip install --disable-pip-version-check "$@" >>.venv/install.log 2>&1; }
  if ! { pipi --upgrade pip && pipi -r requirements.lock && pipi --no-deps -e .; }; then
    tail -n 30 .venv/install.log >&2
    say "Installing the Python packages failed (full log: .venv/install.log)."
    say "The package index must be reachable (pip config or PIP_INDEX_URL)."
    exit 3
  fi
  echo "$want" > "$stamp"
fi

apt_install() {
  # Debian packages, only when running as root with apt (a developer machine or CI here).
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: $*"
    if [ -z "${_apt_updated:-}" ]; then apt-get update -qq >/dev/null; _apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

# 2. A CJK font for charts and PDFs.
has_cjk_font() { fc-list :lang=zh family 2>/dev/null | grep -qiE 'CJK|Song|Hei|Kai|Fang|Ming|WenQuanYi|Source Han'; }
if ! has_cjk_font; then
  apt_install fonts-noto-cjk fontconfig || true
fi
if ! has_cjk_font; then
  say "No Chinese (CJK) font was found, so Chinese text in charts and PDFs cannot be drawn."
  say "Install one and re-run: on Debian/Ubuntu 'sudo apt-get install fonts-noto-cjk';"
  say "elsewhere install 'Noto Serif CJK SC' and 'Noto Sans CJK SC' (https://github.com/notofonts/noto-cjk)."
  exit 3
fi

# 3. For the tests only: PDF text extraction (poppler-utils) and a browser for the site
#    tests (Debian's chromium). Without them those tests skip and say why.
if [ "${1:-}" = "--for-tests" ]; then
  missing=()
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}" || say "could not install ${missing[*]} (not root or no apt): the tests that need them will be skipped"
  fi
fi
