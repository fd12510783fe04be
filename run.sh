#!/usr/bin/env bash
# One entry point for newcomers and CI:
#   ./run.sh demo           set up .venv (digest only), ingest seeds/, build the sample digests into demo/
#   ./run.sh test [ARGS]    set up .venv and the system packages the tests drive, then run pytest
#   ./run.sh bench [ARGS]   set up, then run the benchmarks (see bench/README.md)
set -euo pipefail
cd "$(dirname "$0")"

SYSTEM_PACKAGES=(chromium spamassassin postgresql postfix fonts-dejavu-core)

# setup_python [test]: digest alone (the demo), or digest and its test tools (tests, benchmarks).
test_workers() {
  local cores; cores=$(nproc 2>/dev/null || echo 1)
  echo $(( cores < 4 ? cores : 4 ))
}

setup_python() {
  local what="${1:-}" target=. label="digest"
  [ "$what" = test ] && target='.[test]' label="digest and its test tools"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  local stamp=".venv/.installed${what:+-$what}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "Installing $label into .venv/ ..." >&2
    # This machine's pip config names local mirrors that may be absent: hide those warnings only.
    .venv/bin/python -m pip install -q --disable-pip-version-check -e "$target" 2>&1 \
      | { grep -v "^WARNING: Location '.*' is ignored" || true; } >&2
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "error: pip install failed" >&2; exit 1; }
    touch "$stamp"
  fi
}

setup_system() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v spamassassin >/dev/null || missing+=(spamassassin)
  [ -n "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || missing+=(postgresql)
  command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "warning: missing ${missing[*]}; tests that need them will be skipped (run as root to install)" >&2
    return 0
  fi
  echo "Installing system packages: ${SYSTEM_PACKAGES[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${SYSTEM_PACKAGES[@]}" >/dev/null
}

demo() {
  setup_python
  local db="sqlite:///demo/digest.db"
  mkdir -p demo
  export DIGEST_DATABASE_URL="${DIGEST_DATABASE_URL:-$db}"
  .venv/bin/digest ingest seeds/
  .venv/bin/digest periods
  .venv/bin/digest build --cadence weekly --out demo/
  .venv/bin/digest build --cadence monthly --out demo/
  echo
  echo "Preview every digest in a browser:  DIGEST_DATABASE_URL=$DIGEST_DATABASE_URL .venv/bin/digest preview"
  echo "then open http://127.0.0.1:8000/"
}

case "${1:-}" in
  demo) demo ;;
  # One pytest worker per core, at most 4 (each starts its own PostgreSQL); `-n 0` after it runs serially.
  test) shift; setup_system; setup_python test; .venv/bin/ruff check digest tests
        exec .venv/bin/python -m pytest -n "${DIGEST_TEST_WORKERS:-$(test_workers)}" "$@" ;;
  bench) shift; setup_system; setup_python test; exec .venv/bin/python -m bench "$@" ;;
  *) echo "usage: ./run.sh demo | test [pytest args] | bench [args]" >&2; exit 2 ;;
esac
