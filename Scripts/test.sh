#!/usr/bin/env bash
# Sets up the system packages and runs the whole test suite (the README's test command).
# The kernel tests run on whatever OpenCL device is found first (PoCL's CPU device in CI);
# WIDENET_TEST_DEVICE=N|name picks another.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
swift build --build-tests
# The GPU round's script, every stage at tiny sizes on PoCL (peers on the CPU), so that its first call
# on a lent GPU is not its first run (WIDENET_SKIP_ROUND=1 skips it).
if [ "${WIDENET_SKIP_ROUND:-0}" != 1 ]; then
  WIDENET_BIN=.build/debug/widenet STRICT=1 bash Benchmarks/gpu_round_dry_run.sh
fi
bash Scripts/bundle/test_launcher.sh
# The Python front end (python/): a fresh virtual environment, `pip install ./python` with pandas,
# and its pytest suite against the debug binary (WIDENET_SKIP_PYTHON=1 skips it).
if [ "${WIDENET_SKIP_PYTHON:-0}" != 1 ]; then
  python3 -m venv --clear .build/python-venv
  .build/python-venv/bin/pip install -q --disable-pip-version-check "./python[pandas]" pytest
  rm -rf python/build python/widenet.egg-info
  WIDENET_BIN="$PWD/.build/debug/widenet" .build/python-venv/bin/pytest python/tests -q -rs
fi
swift test --skip-build "$@"
