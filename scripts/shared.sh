# Sourced by start.sh and test.sh from the project's root: each of MNIST ($DIGITNET_DATA), Pyodide
# ($DIGITNET_PYODIDE) and the real writers' strokes ($DIGITNET_WRITERS) that is unset is taken from a
# ../shared folder beside the clone when it has it (else the user cache, the Pyodide CDN, or nothing).
for pair in DIGITNET_DATA=data/mnist DIGITNET_PYODIDE=pyodide/v0.27.7 DIGITNET_WRITERS=data/pendigits; do
  name=${pair%%=*}
  if [ -z "${!name:-}" ] && [ -d "../shared/${pair#*=}" ]; then
    export "$name=$(cd "../shared/${pair#*=}" && pwd)"
  fi
done
