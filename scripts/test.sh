#!/usr/bin/env bash
# The test suite: set up (venv, Chromium for the browser tests, Node.js for the JavaScript ones), lint, then run
# every test: JavaScript's (tests/js, Node's test runner), then Python's.
# MNIST comes from $DIGITNET_DATA, Pyodide from $DIGITNET_PYODIDE and the real writers' strokes from
# $DIGITNET_WRITERS; unset, each is taken from ../shared when it is there (else the user cache, the CDN).
source "$(dirname "$0")/venv.sh" test
source scripts/shared.sh
if [ -z "${DIGITNET_WRITERS:-}" ]; then
  echo "the real-writer tests need DIGITNET_WRITERS: the folder of *.digitnet-strokes.json files (../shared/data/pendigits)" >&2
  exit 1
fi
# a Debian package the tests need: installed when run as root, else one line saying how
need() { # COMMAND PACKAGE WHAT
  command -v "$1" >/dev/null && return
  if [ "$(id -u)" != 0 ]; then
    echo "$3 need $2: sudo apt-get install $2" >&2
    exit 1
  fi
  echo "installing $2 for $3"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
[ -n "${DIGITNET_CHROMIUM:-}" ] || need chromium chromium "the browser tests (or set DIGITNET_CHROMIUM)"
need node nodejs "the JavaScript tests"
ruff check .
node --test --test-reporter=dot tests/js/
python -m pytest -q "$@"
