#!/usr/bin/env bash
# synthscope's two commands.
#   bash run.sh demo [ARGS]   install what is missing, then run the whole loop on CPU
#   bash run.sh test [ARGS]   install what is missing, then run the test suite
# Anything else after `run.sh` is passed to the `synthscope` command itself.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${SYNTHSCOPE_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  # reuse whatever the system Python already has (torch, numpy ...); install the rest
  "$PY" -m venv --system-site-packages "$VENV"
fi
VPY="$VENV/bin/python"
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  # the pinned CPU build; an unpinned torch would pull a multi-GB CUDA build
  "$VPY" -m pip install -q "torch==2.13.0"
fi
if ! "$VPY" -c "import synthscope, monai, skimage, typer, pytest" >/dev/null 2>&1 \
   || [ pyproject.toml -nt "$VENV/.synthscope-installed" ]; then
  "$VPY" -m pip install -q -e ".[learn,dev]"
  touch "$VENV/.synthscope-installed"
fi

cmd=${1:-demo}
[ $# -gt 0 ] && shift
case "$cmd" in
  test)
    set +e
    "$VPY" -m pytest "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then
      echo "error: pytest collected no tests" >&2
      exit 1
    fi
    exit "$rc"
    ;;
  *)
    exec "$VENV/bin/synthscope" "$cmd" "$@"
    ;;
esac
