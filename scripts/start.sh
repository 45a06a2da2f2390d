#!/usr/bin/env bash
# The main job: set up, build the static site with the committed models and serve it on
# http://127.0.0.1:8000/ (extra arguments go to `digitnet serve`, e.g. --port 8080).
source "$(dirname "$0")/venv.sh" train,web,snapshot
source scripts/shared.sh
exec digitnet serve "$@"
