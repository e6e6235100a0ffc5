#!/usr/bin/env bash
# Idempotent setup, one numbered step at a time, each saying what it does and how long it
# took. A step that is already done is skipped and says so; its proof is a stamp file in
# .venv/ (the Python packages: a hash of requirements.lock and pyproject.toml) or a check of
# the system (fonts, test tools). On failure: what failed, the last lines of its log, and
# what to do.
#   bash scripts/bootstrap.sh               venv, packages, CJK font
#   bash scripts/bootstrap.sh --for-tests   also poppler-utils and chromium (Debian, as root)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
for_tests=0; [ "${1:-}" = "--for-tests" ] && for_tests=1
steps=3; [ $for_tests = 1 ] && steps=4

say() { printf '[setup] %s\n' "$*" >&2; }
step_start=0
step() { step_start=$SECONDS; say "$1/$steps $2"; }
done_step() { say "      ${1:-done} ($((SECONDS - step_start)) s)"; }
fail() { say "FAILED: $1"; shift; for line in "$@"; do say "  $line"; done; exit 3; }

# Run a long command, printing a line every 10 s while it works (its output goes to a log).
with_heartbeat() {
  local label="$1" log="$2"; shift 2
  "$@" >>"$log" 2>&1 &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1; waited=$((waited + 1))
    if [ $((waited % 10)) = 0 ]; then
      local last; last="$(grep -aoE '(Collecting|Downloading|Installing|Building|Successfully)[^ ]* [^ ]+' "$log" | tail -n 1 || true)"
      say "      … $label: ${waited} s${last:+, $last}"
    fi
  done
  wait "$pid"
}

# 1. Python virtual environment.
step 1 "Python virtual environment (.venv)"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  fail "Python 3.11 or newer is needed (found: $("$PY" --version 2>&1))." \
       "Install it, or set PYTHON=/path/to/python3.11 and run again."
fi
if [ -x .venv/bin/python ]; then
  done_step "already there"
else
  "$PY" -m venv .venv || fail "could not create .venv with $PY." \
       "On Debian/Ubuntu: apt-get install python3-venv; then run again."
  done_step
fi

# 2. The pinned packages (skipped when requirements.lock and pyproject.toml are unchanged).
step 2 "Python packages from requirements.lock"
stamp=.venv/.lock-sha256
want="$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  done_step "already installed (stamp $stamp matches)"
else
  log=.venv/install.log
  : >"$log"
  say "      installing $(grep -cvE '^\s*(#|$)' requirements.lock) packages; full log: $log"
  pipi() { .venv/bin/python -m pip install --disable-pip-version-check --progress-bar off "$@"; }
  if ! { with_heartbeat "pip" "$log" pipi --upgrade pip \
         && with_heartbeat "pip" "$log" pipi -r requirements.lock \
         && with_heartbeat "pip" "$log" pipi --no-deps -e .; }; then
    tail -n 20 "$log" >&2
    fail "installing the Python packages failed (full log: $log)." \
         "The package index must be reachable (pip config or PIP_INDEX_URL); then run again."
  fi
  echo "$want" > "$stamp"
  done_step
fi

apt_install() {
  # Debian packages, only when running as root with apt (a developer machine or CI here).
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "      installing Debian packages: $*"
    if [ -z "${_apt_updated:-}" ]; then
      with_heartbeat "apt-get update" /tmp/bpsreport-apt.log apt-get update -qq || return 1
      _apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive with_heartbeat "apt-get install" /tmp/bpsreport-apt.log \
      apt-get install -y -qq "$@"
  else
    return 1
  fi
}

# 3. A CJK font for charts and PDFs.
step 3 "Chinese (CJK) font for charts and PDFs"
has_cjk_font() { fc-list :lang=zh family 2>/dev/null | grep -qiE 'CJK|Song|Hei|Kai|Fang|Ming|WenQuanYi|Source Han'; }
if has_cjk_font; then
  done_step "already installed"
else
  apt_install fonts-noto-cjk fontconfig || true
  if ! has_cjk_font; then
    fail "no Chinese (CJK) font was found, so Chinese text in charts and PDFs cannot be drawn." \
         "On Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; elsewhere install 'Noto Serif CJK SC'" \
         "and 'Noto Sans CJK SC' (https://github.com/notofonts/noto-cjk). Then run again."
  fi
  done_step
fi

# 4. For the tests only: PDF text extraction (poppler-utils) and a browser for the site
#    tests (Debian's chromium). Without them those tests skip and say why.
if [ $for_tests = 1 ]; then
  step 4 "test tools: pdftotext (poppler-utils), chromium"
  missing=()
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  if [ ${#missing[@]} = 0 ]; then
    done_step "already installed"
  elif apt_install "${missing[@]}"; then
    done_step
  else
    done_step "could not install ${missing[*]} (not root or no apt): the tests that need them will be skipped"
  fi
fi
