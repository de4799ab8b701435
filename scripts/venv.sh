#!/usr/bin/env bash
# Make sure the project's virtual environment exists, was made with the Python asked for, and has
# the project installed as pyproject.toml says; print one line saying which environment is used.
#
# Usage: scripts/venv.sh PYTHON VENV
#
# Why a project-local environment: Debian/Ubuntu's system Python refuses `pip install` outside a
# virtual environment (PEP 668, "externally-managed-environment"), and installing into someone's
# active environment would silently re-point their packages at this checkout.
set -euo pipefail

python=${1:-python3}
venv=${2:-.venv}

if ! command -v "$python" >/dev/null 2>&1; then
  echo "switchboard: $python was not found; install Python 3.11 or newer (or run make PYTHON=/path/to/python3)" >&2
  exit 2
fi
# The interpreter's identity: its real path and version. A venv made by another Python (a pyenv
# switch, an upgrade) is rebuilt rather than half-working with the wrong site-packages.
identity=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version.split()[0])')
version=${identity##* }
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "switchboard: needs Python 3.11 or newer; $python is $version (run make PYTHON=/path/to/python3.11)" >&2
  exit 2
fi

stamp="$venv/.switchboard-installed"
want="$identity $(cksum < pyproject.toml | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  echo "switchboard: using the virtual environment $venv (Python $version)"
  exit 0
fi

if [ -d "$venv" ]; then
  made_with=$("$venv/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable), sys.version.split()[0])' 2>/dev/null || echo broken)
  if [ "$made_with" != "$identity" ]; then
    echo "switchboard: $venv was made with another Python ($made_with); making it again with $python ($version)"
    rm -rf "$venv"
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "switchboard: creating the virtual environment $venv (Python $version)"
  if ! made=$("$python" -m venv "$venv" 2>&1); then
    echo "$made" >&2
    rm -rf "$venv"
    echo "switchboard: could not create $venv. On Debian/Ubuntu install the venv module first:" >&2
    echo "    sudo apt-get install python3-venv" >&2
    exit 2
  fi
fi

echo "switchboard: installing dependencies into $venv (about a minute, once)…"
# pip's own progress, one line a package; its full output goes to a log shown only on failure.
log="$venv/pip-install.log"
quiet_pip() {
  set +e
  : >"$log"
  "$venv/bin/python" -m pip install --disable-pip-version-check "$@" >>"$log" 2>&1 &
  local pid=$!
  tail -n +1 -f --pid="$pid" "$log" | grep --line-buffered -E '^Collecting ' | sed -u -e 's/^Collecting /  collecting /' -e 's/ (from .*//'
  wait "$pid"
  local status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    tail -n 30 "$log" >&2
  fi
  return "$status"
}
quiet_pip --upgrade pip || true
if ! quiet_pip -e '.[dev]'; then
  echo "switchboard: installing the dependencies failed (above; the whole log is $log)" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "switchboard: ready; using the virtual environment $venv (Python $version)"
