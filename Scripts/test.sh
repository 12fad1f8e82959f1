#!/usr/bin/env bash
# Sets up the system packages and runs the whole test suite (the README's test command).
# The kernel tests run on whatever OpenCL device is found first (PoCL's CPU device in CI);
# WIDENET_TEST_DEVICE=N|name picks another.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
