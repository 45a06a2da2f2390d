#!/usr/bin/env bash
# The main job: set up, then evaluate the committed default model on the MNIST test set.
source "$(dirname "$0")/venv.sh" train
digitnet info weights/c2-100.json
digitnet evaluate weights/c2-100.json "$@"
