#!/usr/bin/env bash
# What this machine offers the widenet bundle: the NVIDIA driver, ICD files, where libnvidia-opencl
# is, the OpenCL loaders, glibc, whether every library of bin/widenet resolves, and what the launcher
# sets up. Read-only (apart from the launcher's own ICD folder); safe to run anywhere.
# Usage: ./probe.sh        (from the bundle folder, or by path)
# Environment (for Benchmarks/gpu_round.sh, which also runs it from the source tree):
#   WIDENET_PROBE_LAUNCHER=path   what runs `devices` (default: the bundle's ./widenet)
#   WIDENET_PROBE_BIN=path        the program whose libraries are listed (default: the bundle's
#                                 bin/widenet, else the launcher when it is a program itself)
#   WIDENET_PROBE_FIND_TIMEOUT=s  seconds for the `find /` for libnvidia-opencl (default 20)
#   WIDENET_PROBE_TIMEOUT=s       seconds for `widenet devices` (default 120)
set -u
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
bounded() { if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi; }
launcher=${WIDENET_PROBE_LAUNCHER:-$here/widenet}
program=${WIDENET_PROBE_BIN:-$here/bin/widenet}
if [ ! -e "$program" ] && [ "$(od -An -c -N4 -- "$launcher" 2>/dev/null | tr -d ' ')" = '177ELF' ]; then program=$launcher; fi
find_timeout=${WIDENET_PROBE_FIND_TIMEOUT:-20}
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
echo "-- find / (depth 8, $find_timeout s at most):"
found=$(bounded "$find_timeout" find / -xdev -maxdepth 8 -name 'libnvidia-opencl.so*' 2>/dev/null | head -5)
[ -n "$found" ] && printf '%s\n' "$found"

echo "== does it load (x86-64 ELF shared library, every dependency found)"
candidates=$(
  for f in "$vendors"/*.icd; do
    [ -r "$f" ] || continue
    l=$(head -n1 "$f")
    case "$l" in *nvidia*|*NVIDIA*) ;; *) continue ;; esac
    case "$l" in
      /*) echo "$l" ;;
      *) [ -n "$ldconfig_bin" ] && "$ldconfig_bin" -p 2>/dev/null | awk -v s="$l" '$1 == s && /x86-64/ { print $NF }' ;;
    esac
  done
  [ -n "$ldconfig_bin" ] && "$ldconfig_bin" -p 2>/dev/null | awk '$1 ~ /^libnvidia-opencl\.so/ && /x86-64/ { print $NF }'
  printf '%s\n' "$found")
checked=0
while IFS= read -r lib; do
  [ -n "$lib" ] || continue
  real=$(readlink -f -- "$lib" 2>/dev/null || echo "$lib")
  hex=$(od -An -tx1 -N20 -- "$real" 2>/dev/null | tr -d ' \n')
  case "$hex" in
    7f454c460201*) elf="ELF 64-bit LE, machine 0x${hex:38:2}${hex:36:2}$([ "${hex:36:4}" = 3e00 ] && echo ' (x86-64)'), type 0x${hex:34:2}${hex:32:2}$([ "${hex:32:4}" = 0300 ] && echo ' (shared object)')" ;;
    7f454c46*) elf="ELF, not 64-bit little-endian" ;;
    "") elf="missing or unreadable" ;;
    *) elf="not an ELF file" ;;
  esac
  deps="ldd: not on PATH"
  case "$elf" in ELF*) ;; *) deps="does not load" ;; esac
  if [ "$deps" != "does not load" ] && command -v ldd >/dev/null 2>&1; then
    missing=$(bounded 10 ldd "$real" 2>&1 | awk '/not found/ { printf "%s%s", sep, $1; sep = " " }')
    deps=${missing:+"dependencies NOT FOUND: $missing"}; deps=${deps:-"every dependency found"}
  fi
  echo "$lib -> $real: $elf; $deps"
  checked=$((checked + 1))
done < <(printf '%s\n' "$candidates" | awk 'NF && !seen[$0]++')
[ "$checked" -gt 0 ] || echo "no NVIDIA OpenCL library found"

echo "== OpenCL loaders"
[ -n "$ldconfig_bin" ] && "$ldconfig_bin" -p 2>/dev/null | grep -i 'libOpenCL'
echo "bundled: $(ls "$here"/lib/libOpenCL.so* 2>/dev/null | tr '\n' ' ')"

echo "== glibc"
getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version 2>/dev/null | head -1
[ -e "$here/.widenet-bundle" ] && grep -m1 -o 'needs glibc [0-9.]*' "$here/README.txt" 2>/dev/null

echo "== $program libraries (with the bundle's lib/ first)"
if command -v ldd >/dev/null 2>&1; then
  LD_LIBRARY_PATH="$here/lib:$here/lib/gcc${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$program" 2>&1 |
    awk -v b="$here/" '{ where = index($0, b) ? "bundle" : (/not found/ ? "MISSING" : "system"); printf "  %-7s %s\n", where, $0 }'
else
  echo "ldd: not on PATH"
fi

echo "== launcher (WIDENET_BUNDLE_DEBUG=1 $launcher devices)"
WIDENET_BUNDLE_DEBUG=1 bounded "${WIDENET_PROBE_TIMEOUT:-120}" "$launcher" devices 2>&1 | head -40

echo "== CPU"
nproc
grep -m1 'model name' /proc/cpuinfo
grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | head -1
free -g 2>/dev/null | head -2
