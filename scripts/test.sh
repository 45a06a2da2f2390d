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
if [ -z "${DIGITNET_CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the browser tests need Chromium: sudo apt-get install chromium (or set DIGITNET_CHROMIUM)" >&2
    exit 1
  fi
fi
if ! command -v node >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Node.js for the JavaScript tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
  else
    echo "the JavaScript tests need Node.js 20 or later: sudo apt-get install nodejs" >&2
    exit 1
  fi
fi
ruff check .
node --test tests/js/
python -m pytest -q "$@"
