#!/usr/bin/env bash
# What this machine offers the widenet bundle: the NVIDIA driver, ICD files, where libnvidia-opencl
# is, the OpenCL loaders, glibc, whether every library of bin/widenet resolves, and what the launcher
# sets up. Read-only (apart from the launcher's own ICD folder); safe to run anywhere.
# Usage: ./probe.sh        (from the bundle folder, or by path)
set -u
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
bounded() { if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi; }
ldconfig_bin=$(command -v ldconfig 2>/dev/null || true)
for c in /sbin/ldconfig /usr/sbin/ldconfig; do
  if [ -z "$ldconfig_bin" ] && [ -x "$c" ]; then ldconfig_bin=$c; fi
done

echo "== nvidia-smi"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -5
else
  echo "nvidia-smi: not on PATH"
fi
ls -l /dev/nvidia* 2>/dev/null | head -5
[ -r /proc/driver/nvidia/version ] && head -1 /proc/driver/nvidia/version

vendors=${OCL_ICD_VENDORS:-${OPENCL_VENDOR_PATH:-/etc/OpenCL/vendors}}
echo "== ICD files ($vendors)"
ls -l "$vendors" 2>&1
for f in "$vendors"/*.icd; do [ -r "$f" ] && echo "$f: $(head -n1 "$f")"; done

echo "== NVIDIA OpenCL library"
[ -n "$ldconfig_bin" ] && "$ldconfig_bin" -p 2>/dev/null | grep -i 'libnvidia-opencl'
ls -l /usr/lib/x86_64-linux-gnu/libnvidia-opencl* /usr/lib64/libnvidia-opencl* \
      /usr/local/nvidia/lib*/libnvidia-opencl* /usr/lib/nvidia*/libnvidia-opencl* \
      /usr/lib/x86_64-linux-gnu/nvidia*/libnvidia-opencl* /usr/lib/x86_64-linux-gnu/nvidia/current/libnvidia-opencl* 2>/dev/null
echo "-- find / (depth 8, 20 s at most):"
bounded 20 find / -xdev -maxdepth 8 -name 'libnvidia-opencl.so*' 2>/dev/null | head -5

echo "== OpenCL loaders"
[ -n "$ldconfig_bin" ] && "$ldconfig_bin" -p 2>/dev/null | grep -i 'libOpenCL'
echo "bundled: $(ls "$here"/lib/libOpenCL.so* 2>/dev/null | tr '\n' ' ')"

echo "== glibc"
getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version 2>/dev/null | head -1
grep -m1 -o 'needs glibc [0-9.]*' "$here/README.txt" 2>/dev/null

echo "== bin/widenet libraries (with the bundle's lib/ first)"
if command -v ldd >/dev/null 2>&1; then
  LD_LIBRARY_PATH="$here/lib:$here/lib/gcc" ldd "$here/bin/widenet" 2>&1 |
    awk -v b="$here/" '{ where = index($0, b) ? "bundle" : (/not found/ ? "MISSING" : "system"); printf "  %-7s %s\n", where, $0 }'
else
  echo "ldd: not on PATH"
fi

echo "== launcher (WIDENET_BUNDLE_DEBUG=1 ./widenet devices)"
WIDENET_BUNDLE_DEBUG=1 bounded 120 "$here/widenet" devices 2>&1 | head -40

echo "== CPU"
nproc
grep -m1 'model name' /proc/cpuinfo
grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | head -1
free -g 2>/dev/null | head -2
