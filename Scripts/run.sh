#!/usr/bin/env bash
# Sets up the system packages, builds widenet in release mode and runs it (the README's first
# command). With no arguments: the default experiment on the best device found.
set -euo pipefail
cd "$(dirname "$0")/.."
source Scripts/setup.sh
swift build -c release --product widenet >&2
exec "$(swift build -c release --show-bin-path)/widenet" "${@:-train}"
