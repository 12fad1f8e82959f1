#!/usr/bin/env bash
# widenet bundle launcher (written by Scripts/bundle.sh; the real program is bin/widenet).
#
# 1. Puts the bundle's lib/ first on LD_LIBRARY_PATH (OpenBLAS, LAPACKE, libgfortran, the ocl-icd
#    OpenCL loader, ...). lib/gcc/ (libstdc++, libgcc_s) is added only when this machine's own copies
#    are missing or older than what the bundle needs, so that a system OpenCL driver (PoCL, ...) that
#    wants a newer libstdc++ still gets the system one.
# 2. Makes the NVIDIA OpenCL driver visible: when the vendors folder ($OCL_ICD_VENDORS, else
#    $OPENCL_VENDOR_PATH, else /etc/OpenCL/vendors) holds no NVIDIA ICD file (common in containers
#    that mount only the driver libraries), it looks for libnvidia-opencl.so.1, writes an ICD file
#    naming its full path into a folder of its own, links the other ICD files (PoCL, ...) next to it,
#    and points OCL_ICD_VENDORS there. With no writable folder at all it sets OCL_ICD_VENDORS to the
#    library itself (the bundled ocl-icd loader then loads only that one).
#    An NVIDIA library is accepted (named by an existing ICD file, found, or remembered from an
#    earlier run) only when it loads: it resolves to a readable x86-64 ELF shared library and, where
#    ldd exists, none of its dependencies is "not found". Otherwise the next candidate is tried (a
#    one-line note each with WIDENET_BUNDLE_DEBUG=1); when NVIDIA libraries were found but none
#    loads, one line on standard error says so and OpenCL sees only the other ICDs (PoCL, ...).
# 3. execs bin/widenet with all arguments. It prints nothing unless something is wrong.
#
# Environment:
#   WIDENET_BUNDLE_DEBUG=1       print what was found and set, to standard error (WIDENET_DEBUG=1 too)
#   WIDENET_NVIDIA_LIB_DIRS=a:b  folders searched first for libnvidia-opencl.so*
#   WIDENET_NVIDIA_SEARCH=0      no NVIDIA search, no ICD folder: the OpenCL setup is left as it is
#   WIDENET_NVIDIA_FIND=1|0      force / forbid the last-resort `find /` (default: only when an
#                                NVIDIA driver is loaded: /proc/driver/nvidia or /dev/nvidiactl exists)
#   WIDENET_NVIDIA_FIND_TIMEOUT  seconds for that find (default 10; depth is limited to 8)
#   WIDENET_ICD_DIR=folder       where to write the ICD folder (default
#                                ${XDG_CACHE_HOME:-$HOME/.cache}/widenet/vendors, else
#                                ${TMPDIR:-/tmp}/widenet-<uid>/vendors)
#   OCL_ICD_VENDORS naming a file (an .icd file or a library): the OpenCL setup is left as it is.
# (The bundled loader is ocl-icd: it reads OCL_ICD_VENDORS / OPENCL_VENDOR_PATH, not OCL_ICD_FILENAMES.)
set -u

glibc_min="@GLIBC_MIN@"          # newest GLIBC_x.y that bin/widenet and lib/ need
glibc_min_gcc="@GLIBC_MIN_GCC@"  # newest GLIBC_x.y that lib/gcc needs
gcc_needs="@GCC_NEEDS@"          # soname:VERSION: the newest of each version family needed from lib/gcc

here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
debug() {
  if [ "${WIDENET_BUNDLE_DEBUG:-0}" = 1 ] || [ "${WIDENET_DEBUG:-0}" = 1 ]; then echo "widenet-bundle: $*" >&2; fi
}

# --- glibc --------------------------------------------------------------------------------------
glibc=""
older_than() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" != "$2" ]; }  # is $1 < $2?
if glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null); then
  glibc=${glibc##* }
  if older_than "$glibc" "$glibc_min"; then
    echo "widenet: this bundle needs glibc $glibc_min or newer; this machine has glibc $glibc" >&2
    exit 1
  fi
  debug "glibc $glibc (needs $glibc_min)"
fi

# --- shared libraries ---------------------------------------------------------------------------
ldconfig_bin=$(command -v ldconfig 2>/dev/null || true)
for c in /sbin/ldconfig /usr/sbin/ldconfig; do
  if [ -z "$ldconfig_bin" ] && [ -x "$c" ]; then ldconfig_bin=$c; fi
done
ldcache=""
if [ -n "$ldconfig_bin" ]; then ldcache=$("$ldconfig_bin" -p 2>/dev/null || true); fi

# The x86-64 library the system loader would pick for a soname (ld.so cache, then the usual folders).
system_lib() {
  local p=""
  if [ -n "$ldcache" ]; then
    p=$(printf '%s\n' "$ldcache" | awk -v s="$1" '$1 == s && /x86-64/ { print $NF; exit }')
  fi
  if [ -z "$p" ]; then
    for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64; do
      if [ -e "$d/$1" ]; then p="$d/$1"; break; fi
    done
  fi
  if [ -n "$p" ] && [ -e "$p" ]; then printf '%s\n' "$p"; fi
}

libpath="$here/lib"
if [ -d "$here/lib/gcc" ]; then
  use_bundled_gcc=""
  for need in $gcc_needs; do
    so=${need%%:*}; ver=${need#*:}
    p=$(system_lib "$so")
    if [ -z "$p" ]; then use_bundled_gcc="the system has no $so"; break; fi
    if ! LC_ALL=C grep -qaFw -- "$ver" "$p" 2>/dev/null; then
      use_bundled_gcc="$p lacks $ver"; break
    fi
  done
  if [ -n "$use_bundled_gcc" ]; then
    if [ -n "$glibc" ] && older_than "$glibc" "$glibc_min_gcc"; then
      echo "widenet: $use_bundled_gcc, and the bundled one needs glibc $glibc_min_gcc (this machine has $glibc); install a newer libstdc++6" >&2
      exit 1
    fi
    libpath="$libpath:$here/lib/gcc"
    debug "using the bundled libstdc++/libgcc_s ($use_bundled_gcc)"
  else
    debug "using the system libstdc++/libgcc_s (they have $gcc_needs)"
  fi
fi
orig_ld_library_path=${LD_LIBRARY_PATH:-}
export LD_LIBRARY_PATH="$libpath${orig_ld_library_path:+:$orig_ld_library_path}"
debug "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

# --- OpenCL: the NVIDIA ICD ---------------------------------------------------------------------
# A usable 64-bit candidate: exists and is not a 32-bit ELF file.
usable_lib() {
  [ -f "$1" ] && [ -r "$1" ] || return 1
  local head
  head=$(od -An -c -N5 -- "$1" 2>/dev/null | tr -d ' ')
  case "$head" in '177ELF001') return 1 ;; esac
  return 0
}

# Does the library load? Prints why not (and fails) unless it resolves to a readable x86-64 ELF
# shared library whose dependencies all resolve (ldd, where it exists, with our LD_LIBRARY_PATH).
lib_check() {
  local real hex out missing
  real=$(readlink -f -- "$1" 2>/dev/null) || real=$1
  if [ ! -f "$real" ] || [ ! -r "$real" ]; then echo "does not resolve to a readable file"; return 1; fi
  # ELF header bytes: 0-3 magic, 4 class (02: 64-bit), 5 data (01: little-endian),
  # 16-17 e_type (03 00: shared object), 18-19 e_machine (3e 00: x86-64)
  hex=$(od -An -tx1 -N20 -- "$real" 2>/dev/null | tr -d ' \n')
  case "$hex" in 7f454c46*) ;; *) echo "is not an ELF file"; return 1 ;; esac
  if [ "${hex:8:4}" != 0201 ]; then echo "is not a 64-bit little-endian ELF file"; return 1; fi
  if [ "${hex:36:4}" != 3e00 ]; then echo "is not built for x86-64 (ELF machine 0x${hex:38:2}${hex:36:2})"; return 1; fi
  if [ "${hex:32:4}" != 0300 ]; then echo "is not a shared library"; return 1; fi
  if command -v ldd >/dev/null 2>&1; then
    if ! out=$(bounded 10 ldd "$real" 2>&1); then
      echo "ldd fails on it: $(printf '%s\n' "$out" | head -n1)"; return 1
    fi
    missing=$(printf '%s\n' "$out" | awk '/not found/ { printf "%s%s", sep, $1; sep = " " }')
    if [ -n "$missing" ]; then echo "its dependencies $missing are not found"; return 1; fi
  fi
  return 0
}
bounded() { if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi; }

# NVIDIA libraries that do not load ("path: why; ..."), for the debug notes and the final message.
rejected=""
reject() {
  case "; $rejected" in *"; $1: "*) return 0 ;; esac
  rejected="${rejected}${rejected:+; }$1: $2"
  debug "skipping $1: $2"
}
# Accepts a candidate library (sets nvidia_lib) when it is usable and loads; notes it otherwise.
nvidia_lib=""
consider() {
  local why
  usable_lib "$1" || return 1
  case "; $rejected" in *"; $1: "*) return 1 ;; esac
  if why=$(lib_check "$1"); then nvidia_lib=$1; debug "found via $2: $1"; return 0; fi
  reject "$1" "$why"
  return 1
}

# The first libnvidia-opencl of a folder that loads (.so.1 first, then a versioned file).
lib_in_dir() {
  local d=$1 f
  [ -d "$d" ] || return 1
  for f in "$d/libnvidia-opencl.so.1" "$d"/libnvidia-opencl.so.[0-9]*; do
    if consider "$f" "$2"; then return 0; fi
  done
  return 1
}

# The file a library name in an ICD file stands for: itself when it is a path, else what the
# loader would find (LD_LIBRARY_PATH as it came in, the ld.so cache, the usual folders).
icd_lib_path() {
  local d dirs=()
  case "$1" in */*) printf '%s\n' "$1"; return 0 ;; esac
  if [ -n "$orig_ld_library_path" ]; then IFS=: read -r -a dirs <<< "$orig_ld_library_path"; fi
  for d in ${dirs[@]+"${dirs[@]}"}; do
    if [ -n "$d" ] && [ -e "$d/$1" ]; then printf '%s\n' "$d/$1"; return 0; fi
  done
  system_lib "$1"
}

# Does a vendors folder hold an ICD file for NVIDIA whose library loads?
has_nvidia_icd() {
  local f line lib why
  for f in "$1"/*.icd; do
    [ -r "$f" ] || continue
    line=""; IFS= read -r line < "$f" || [ -n "$line" ] || continue
    case "$line" in *nvidia*|*NVIDIA*) ;; *) continue ;; esac
    lib=$(icd_lib_path "$line")
    if [ -z "$lib" ]; then reject "$line" "named by $f, not found"; continue; fi
    if why=$(lib_check "$lib"); then debug "NVIDIA ICD: $f -> $line"; return 0; fi
    reject "$lib" "$why (named by $f)"
  done
  return 1
}

# A folder of ours for the ICD files (created; owned and writable by this user).
icd_dir() {
  local d
  while IFS= read -r d; do
    [ -n "$d" ] || continue
    if mkdir -p -- "$d" 2>/dev/null && [ -d "$d" ] && [ -O "$d" ] && [ -w "$d" ]; then
      printf '%s\n' "$d"; return 0
    fi
  done < <(icd_dir_candidates)
  return 1
}

# Candidate ICD folders of ours, in order of preference.
icd_dir_candidates() {
  printf '%s\n' "${WIDENET_ICD_DIR:-}" \
    "${XDG_CACHE_HOME:+$XDG_CACHE_HOME/widenet/vendors}" \
    "${HOME:+$HOME/.cache/widenet/vendors}" \
    "${TMPDIR:-/tmp}/widenet-$(id -u 2>/dev/null || echo user)/vendors"
}

# Sets nvidia_lib to the first libnvidia-opencl that loads, searching in this order.
find_nvidia_lib() {
  local d p f dirs=()
  # 1. WIDENET_NVIDIA_LIB_DIRS
  if [ -n "${WIDENET_NVIDIA_LIB_DIRS:-}" ]; then
    IFS=: read -r -a dirs <<< "$WIDENET_NVIDIA_LIB_DIRS"
    for d in ${dirs[@]+"${dirs[@]}"}; do
      if lib_in_dir "$d" "WIDENET_NVIDIA_LIB_DIRS"; then return 0; fi
    done
  fi
  # 2. the ld.so cache
  if [ -n "$ldcache" ]; then
    while IFS= read -r f; do
      if consider "$f" "ldconfig -p"; then return 0; fi
    done < <(printf '%s\n' "$ldcache" | awk '$1 ~ /^libnvidia-opencl\.so/ && /x86-64/ { print $NF }')
  fi
  # 3. LD_LIBRARY_PATH as it came in, then the usual driver folders
  dirs=()
  if [ -n "$orig_ld_library_path" ]; then IFS=: read -r -a dirs <<< "$orig_ld_library_path"; fi
  for d in ${dirs[@]+"${dirs[@]}"} /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
           /usr/lib/x86_64-linux-gnu/nvidia/current /usr/lib/x86_64-linux-gnu/nvidia* /usr/lib/nvidia* \
           /usr/lib/wsl/lib /lib/x86_64-linux-gnu /lib64; do
    if lib_in_dir "$d" "$d"; then return 0; fi
  done
  # 4. what an earlier run found
  while IFS= read -r d; do
    [ -n "$d" ] && [ -r "$d/nvidia.icd" ] || continue
    p=""; IFS= read -r p < "$d/nvidia.icd" || [ -n "$p" ] || continue
    if consider "$p" "the ICD file written earlier ($d/nvidia.icd)"; then return 0; fi
  done < <(icd_dir_candidates)
  # 5. last resort: a bounded find over the root file system
  local want=${WIDENET_NVIDIA_FIND:-auto}
  if [ "$want" = auto ]; then
    if [ -e /proc/driver/nvidia ] || [ -e /dev/nvidiactl ]; then want=1; else want=0; fi
  fi
  if [ "$want" = 1 ] && command -v timeout >/dev/null 2>&1; then
    debug "searching / for libnvidia-opencl.so* (at most ${WIDENET_NVIDIA_FIND_TIMEOUT:-10} s)"
    while IFS= read -r f; do
      if consider "$f" "find"; then return 0; fi
    done < <(timeout "${WIDENET_NVIDIA_FIND_TIMEOUT:-10}" find / -xdev -maxdepth 8 -name 'libnvidia-opencl.so*' \
               \( -type f -o -type l \) 2>/dev/null)
  fi
  return 1
}

setup_opencl() {
  if [ "${WIDENET_NVIDIA_SEARCH:-1}" = 0 ]; then
    debug "WIDENET_NVIDIA_SEARCH=0: OpenCL setup left as it is"; return 0
  fi
  if [ -z "${OCL_ICD_VENDORS:-}" ]; then unset OCL_ICD_VENDORS; fi   # empty means the default
  local vendors=${OCL_ICD_VENDORS:-${OPENCL_VENDOR_PATH:-/etc/OpenCL/vendors}}
  case "$vendors" in /*) ;; *) vendors="$PWD/$vendors" ;; esac   # the links made below need an absolute path
  if [ -e "$vendors" ] && [ ! -d "$vendors" ]; then
    debug "OpenCL vendors $vendors is not a folder: OpenCL setup left as it is"; return 0
  fi
  if has_nvidia_icd "$vendors"; then return 0; fi

  local lib dir f name line
  if ! find_nvidia_lib; then
    if [ -n "$rejected" ]; then
      echo "widenet: no NVIDIA OpenCL library that loads ($rejected); OpenCL sees only the other ICDs of $vendors" >&2
    else
      debug "no NVIDIA ICD in $vendors and no libnvidia-opencl.so* found: OpenCL sees only $vendors"
    fi
    return 0
  fi
  lib=$nvidia_lib
  debug "NVIDIA OpenCL library: $lib"
  if ! dir=$(icd_dir); then
    # No writable folder: ocl-icd loads a library named by OCL_ICD_VENDORS directly (NVIDIA only).
    export OCL_ICD_VENDORS=$lib
    debug "no writable folder for an ICD file: OCL_ICD_VENDORS=$lib (other ICDs hidden)"
    return 0
  fi
  # nvidia.icd, rewritten only when it changes (atomically: other runs may be reading it).
  if [ ! -f "$dir/nvidia.icd" ] || [ "$(cat -- "$dir/nvidia.icd" 2>/dev/null)" != "$lib" ]; then
    printf '%s\n' "$lib" > "$dir/.nvidia.icd.$$" && mv -f -- "$dir/.nvidia.icd.$$" "$dir/nvidia.icd"
  fi
  # The other ICD files of $vendors (PoCL, ...), as links; links to anything else are dropped.
  if [ "$(readlink -f -- "$dir")" != "$(readlink -f -- "$vendors" 2>/dev/null)" ]; then
    for f in "$dir"/*.icd; do
      [ -L "$f" ] || continue
      case "$(readlink -- "$f")" in "$vendors"/*) [ -e "$f" ] && continue ;; esac
      rm -f -- "$f"
    done
    for f in "$vendors"/*.icd; do
      [ -e "$f" ] || continue
      name=${f##*/}
      [ "$name" = nvidia.icd ] && continue
      # an NVIDIA ICD there names a library that does not load (has_nvidia_icd said no): not linked
      line=""; IFS= read -r line < "$f" || true
      case "$line" in *nvidia*|*NVIDIA*) rm -f -- "$dir/$name"; continue ;; esac
      [ "$(readlink -- "$dir/$name" 2>/dev/null)" = "$f" ] || ln -sfn -- "$f" "$dir/$name"
    done
  fi
  export OCL_ICD_VENDORS=$dir
  debug "OCL_ICD_VENDORS=$dir: $(cd -- "$dir" && ls -- *.icd 2>/dev/null | tr '\n' ' ')"
}
setup_opencl

exec "$here/bin/widenet" "$@"
