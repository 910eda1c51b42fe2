#!/usr/bin/env bash
# The set-up behind `make run` / `make test`: two virtual environments and a trained NLU model.
# Idempotent: each environment carries a stamp named after its requirement file's hash, and the
# model file is named after the hash of config.yml and data/, so a second run installs and trains
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

python_ok() {  # python_ok CANDIDATE CHECK: the candidate runs and satisfies the version check
  [ -n "$1" ] && "$1" -c "import sys, venv; sys.exit(0 if $2 else 1)" >/dev/null 2>&1
}

find_app_python() {
  for candidate in "${APP_PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    if python_ok "$candidate" "sys.version_info >= (3, 11)"; then command -v "$candidate"; return; fi
  done
  say "No Python 3.11 or newer found. Install it (Debian/Ubuntu: apt-get install python3 python3-venv)." >&2
  exit 1
}

find_nlu_python() {
  # Rasa Open Source 3.6 runs on Python 3.8-3.10 only. On machines with pyenv, `python3.10` on
  # PATH may be a shim that fails unless 3.10 is selected, so every candidate is run to check it.
  local candidates=("${NLU_PYTHON:-}" python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10)
  if command -v pyenv >/dev/null 2>&1; then
    local v
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -rV); do
      candidates+=("$(pyenv root)/versions/$v/bin/python3.10")
    done
  fi
  for candidate in "${candidates[@]}"; do
    if python_ok "$candidate" "sys.version_info[:2] == (3, 10)"; then
      command -v "$candidate" || echo "$candidate"; return
    fi
  done
  say "No working Python 3.10 found: Rasa Open Source 3.6 needs it for the NLU service." >&2
  say "Install it: apt-get install python3.10 python3.10-venv, or pyenv install 3.10, or set NLU_PYTHON=/path/to/python3.10." >&2
  exit 1
}

install_venv() {  # install_venv DIR PYTHON REQUIREMENTS WHAT [PIP_OPTION...]
  local dir=$1 python=$2 requirements=$3 what=$4
  shift 4
  local stamp="$dir/.installed-$(sha256sum "$requirements" | cut -c1-16)"
  if [ -f "$stamp" ] && "$dir/bin/python" -c "" >/dev/null 2>&1; then
    say "$what: up to date ($dir)"
    return
  fi
  if ! "$dir/bin/python" -c "" >/dev/null 2>&1; then
    say "$what: creating $dir with $python"
    rm -rf "$dir"
    "$python" -m venv "$dir"
  fi
  say "$what: installing $requirements (this takes a while the first time)..."
  local started=$SECONDS
  # This machine's pip configuration names local indexes that may be absent: pip warns once per
  # package about them, which would bury the set-up's own messages.
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "$@" -r "$requirements" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  # Byte-compiled here, on every core: pip compiles one file at a time (27 of the NLU environment's
  # 81 s), and where PYTHONDONTWRITEBYTECODE is set (this machine) nothing compiled at import is
  # kept, so every process would compile TensorFlow's and Flask's modules again (a test run took
  # 30 % longer).
  "$dir/bin/python" -m compileall -q -j 0 "$dir/lib" >/dev/null \
    || say "$what: some files could not be compiled ahead (a package's examples or templates); they compile when imported"
  rm -f "$dir"/.installed-*
  touch "$stamp"
  say "$what: installed in $((SECONDS - started)) s"
}

ensure_test_tools() {
  # The browser tests drive Debian's Chromium: Playwright's own browser download is not possible
  # on machines without general internet access. nginx and logrotate check the files of deploy/.
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
  command -v logrotate >/dev/null 2>&1 || missing+=(logrotate)
  if [ ${#missing[@]} = 0 ]; then
    say "Chromium, nginx and logrotate for the tests: present"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "For the tests: installing ${missing[*]} with apt-get (about 30 s)..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif [[ " ${missing[*]} " == *" chromium "* ]]; then
    say "Chromium not found: the browser tests need it. Install it: sudo apt-get install chromium ${missing[*]/chromium/}" >&2
    exit 1
  else
    say "${missing[*]} not found: tests/test_deploy.py skips what needs them (sudo apt-get install ${missing[*]})" >&2
  fi
}

if [ "${1:-}" = "--with-browser" ]; then ensure_test_tools; fi
# The two environments are independent: installed side by side, the app's inside the NLU's minute.
app_python=$(find_app_python)
nlu_python=$(find_nlu_python)
install_venv .venv "$app_python" requirements.txt "app environment" & app_install=$!
install_venv .venv-nlu "$nlu_python" nlu/requirements.txt "NLU environment (Rasa 3.6, TensorFlow)" --no-deps & nlu_install=$!
status=0
wait "$app_install" || status=$?
wait "$nlu_install" || status=$?
[ "$status" = 0 ] || exit "$status"
# Our own modules too (the tests start many processes); a file changed later is compiled again.
.venv/bin/python -m compileall -q -j 0 bot nlu webhooks tests bench >/dev/null
.venv-nlu/bin/python -m compileall -q -j 0 nlu >/dev/null
.venv-nlu/bin/python -m nlu train
