#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run lint, type checks and
# every test. Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

say "PostgreSQL server (the storage tests run on SQLite and on a real PostgreSQL)"
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "found $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
elif [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  echo "installed $(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "not installed and no root: the PostgreSQL tests will be skipped (apt-get install postgresql)"
fi

say "Chromium and a Chinese font (the web console's tests drive a real browser), systemd-analyze"
# Debian's packages: Playwright can't download its own browser here. Without a CJK font
# every Chinese character in a screenshot is a box.
browser_packages=()
[ -x /usr/bin/chromium ] || browser_packages+=(chromium)
fc-list 2>/dev/null | grep -qiE 'wqy|noto (sans|serif) cjk' || browser_packages+=(fonts-wqy-microhei)
# and the tools that check deploy/'s systemd units and logrotate file (tests/test_deploy.py)
command -v systemd-analyze >/dev/null 2>&1 || browser_packages+=(systemd)
command -v logrotate >/dev/null 2>&1 || [ -x /usr/sbin/logrotate ] || browser_packages+=(logrotate)
if [ ${#browser_packages[@]} -eq 0 ]; then
  echo "found /usr/bin/chromium, a CJK font, systemd-analyze and logrotate"
elif [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser_packages[@]}" >/dev/null
  echo "installed ${browser_packages[*]}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${browser_packages[@]}" >/dev/null
else
  echo "missing ${browser_packages[*]} and no root: the browser test will be skipped"
fi

say "Python environment (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
.venv/bin/python --version

if [ -f tests/gateway/package.json ]; then
  say "Node puppet-service gateway for the WeChat integration tests"
  if command -v npm >/dev/null 2>&1; then
    # `npm ci` installs exactly the committed lock file and never rewrites it (`npm install`
    # re-resolves and leaves the clone dirty). npm records what it installed in
    # node_modules/.package-lock.json: newer than the lock file means nothing to do.
    (
      cd tests/gateway
      if [ node_modules/.package-lock.json -nt package-lock.json ]; then
        echo "node_modules is up to date with package-lock.json"
      else
        npm ci --no-audit --no-fund --loglevel=error
      fi
    )
  else
    echo "npm not found: the WeChat integration tests will be skipped"
  fi
fi

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

say "mypy"
.venv/bin/mypy

say "pytest"
.venv/bin/python -m pytest "$@"
