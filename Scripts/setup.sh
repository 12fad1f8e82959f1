#!/usr/bin/env bash
# Installs the Debian packages WideNet builds and tests with, when any is missing:
#   OpenCL loader and headers, OpenBLAS + LAPACKE, PoCL (a CPU OpenCL device for the tests), and
#   Open MPI (loaded at run time only by processes that mpirun or srun starts).
# Needs root or sudo only when something must be installed. Swift 6.1+ must already be on PATH.
set -euo pipefail
packages=(ocl-icd-opencl-dev opencl-headers libopenblas-dev liblapacke-dev pocl-opencl-icd openmpi-bin libopenmpi-dev)
# python3 with numpy serves the .npy interop tests and the peer benchmarks; any python3 that has it will do.
python3 -c "import numpy" >/dev/null 2>&1 || packages+=(python3 python3-numpy)
# scipy: the quadrature and special functions of the harmonic-target reference (Tests/References).
python3 -c "import scipy" >/dev/null 2>&1 || packages+=(python3-scipy)
# venv: the Python front end's tests install ./python into a fresh virtual environment.
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || packages+=(python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift is not on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
# PoCL compiles kernels into a cache; give it a writable one.
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-${TMPDIR:-/tmp}/widenet-pocl-cache}"
mkdir -p "$POCL_CACHE_DIR"
