#!/usr/bin/env bash
# The test suite: set up, lint, then run every test (real MNIST: see README for where it is found).
source "$(dirname "$0")/venv.sh" test
ruff check .
python -m pytest -q "$@"
