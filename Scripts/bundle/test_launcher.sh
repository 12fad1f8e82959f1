#!/usr/bin/env bash
# Tests the bundle launcher (Scripts/bundle/launcher.sh, which Scripts/bundle.sh installs as the
# bundle's `widenet`) without the real program or a GPU:
#
#   bash Scripts/bundle/test_launcher.sh
#
# In a temp folder it lays out a fake bundle (the launcher as `widenet`, an empty lib/, and a
# bin/widenet shell script that prints its arguments, LD_LIBRARY_PATH, OCL_ICD_VENDORS and every
# *.icd file of that folder), builds fake libnvidia-opencl libraries with the C compiler (good,
# not an ELF file, not x86-64, a dependency that is not found, ...), runs the launcher against them
# and checks what it chose. It prints `ok   <case>` or `FAIL <case>: <why>` per case, then
# `launcher: N passed, M failed`, and fails when any case fails. Without a C compiler the cases
# that need real ELF libraries are skipped (a "skipped: no C compiler" line), without ldd the
# missing-dependency case.
#
# Hermetic: every run gets `env -i` with PATH only, WIDENET_NVIDIA_FIND=0 (no `find /`), its own
# HOME, TMPDIR, WIDENET_ICD_DIR (so no ICD file of an earlier real run is read) and OCL_ICD_VENDORS
# (so /etc/OpenCL/vendors is never read). The launcher's ld.so-cache and system-folder search has no
# switch; a machine with an NVIDIA driver of its own is detected first (a run with nothing of
# ours), and the cases that expect "no library" then expect that machine's own library instead.
set -u

src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
launcher_src="$src_dir/launcher.sh"
[ -r "$launcher_src" ] || { echo "test_launcher.sh: $launcher_src not found" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/widenet launcher test.XXXXXX") || { echo "test_launcher.sh: mktemp failed" >&2; exit 1; }
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT TERM
tmp=$(cd "$tmp" && pwd -P)   # the launcher resolves its own folder with readlink -f

passed=0
failed=0
why=""

# --- the fake bundle ------------------------------------------------------------------------------
# Like Scripts/bundle.sh: the launcher with its placeholders filled in (glibc 2.17: any machine).
make_bundle() { # folder glibc_min
  mkdir -p "$1/bin" "$1/lib"
  sed -e "s|@GLIBC_MIN@|$2|" -e "s|@GLIBC_MIN_GCC@|$2|" -e "s|@GCC_NEEDS@||" "$launcher_src" > "$1/widenet"
  cat > "$1/bin/widenet" <<'EOF'
#!/bin/sh
# fake bin/widenet: shows what the launcher set up
echo "args: $*"
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH-<unset>}"
echo "OCL_ICD_VENDORS=${OCL_ICD_VENDORS-<unset>}"
if [ -n "${OCL_ICD_VENDORS:-}" ] && [ -d "$OCL_ICD_VENDORS" ]; then
  for f in "$OCL_ICD_VENDORS"/*.icd; do
    [ -e "$f" ] || continue
    kind=file; [ -L "$f" ] && kind=link
    echo "icd ${f##*/} $kind: $(cat "$f")"
  done
fi
EOF
  chmod 0755 "$1/widenet" "$1/bin/widenet"
}
bundle="$tmp/fake bundle/widenet"   # a space in the path, on purpose
make_bundle "$bundle" 2.17

# --- fake NVIDIA libraries ------------------------------------------------------------------------
L="$tmp/libs"
mkdir -p "$L/empty" "$L/notelf" "$L/orig"
printf 'not a library\n' > "$L/notelf/libnvidia-opencl.so.1"

cc_bin=""
for c in cc gcc clang; do
  if command -v "$c" >/dev/null 2>&1; then cc_bin=$(command -v "$c"); break; fi
done
have_elf=0
build_error=""
if [ -n "$cc_bin" ]; then
  b="$tmp/build"
  mkdir -p "$b" "$L/good" "$L/good2" "$L/missingdep" "$L/arm" "$L/mixed"
  printf 'int clGetPlatformIDs(unsigned n, void *p, unsigned *m) { (void)n; (void)p; if (m) *m = 0; return -1001; }\n' > "$b/nv.c"
  printf 'int widenet_missing(void) { return 1; }\n' > "$b/dep.c"
  printf 'int widenet_missing(void);\nint clGetPlatformIDs(void) { return widenet_missing(); }\n' > "$b/nvdep.c"
  so="-Wl,-soname,libnvidia-opencl.so.1"
  if build_error=$(
       "$cc_bin" -shared -fPIC "$so" -o "$L/good/libnvidia-opencl.so.1" "$b/nv.c" 2>&1 &&
       cp "$L/good/libnvidia-opencl.so.1" "$L/good2/libnvidia-opencl.so.1" &&
       "$cc_bin" -shared -fPIC -o "$b/libmissingdep.so" "$b/dep.c" 2>&1 &&
       "$cc_bin" -shared -fPIC "$so" -o "$L/missingdep/libnvidia-opencl.so.1" "$b/nvdep.c" -L"$b" -lmissingdep 2>&1 &&
       rm -f "$b/libmissingdep.so" &&
       cp "$L/good/libnvidia-opencl.so.1" "$L/arm/libnvidia-opencl.so.1" &&
       printf '\267' | dd of="$L/arm/libnvidia-opencl.so.1" bs=1 seek=18 conv=notrunc 2>&1 &&
       cp "$L/notelf/libnvidia-opencl.so.1" "$L/mixed/libnvidia-opencl.so.1" &&
       cp "$L/good/libnvidia-opencl.so.1" "$L/mixed/libnvidia-opencl.so.550.54.14"
     ); then
    have_elf=1
  fi
fi
have_ldd=0
command -v ldd >/dev/null 2>&1 && have_ldd=1

# --- running the launcher -------------------------------------------------------------------------
n=0
# new_case: fresh folders for one run: $vendors (an empty vendors folder, created), $icd (the
# WIDENET_ICD_DIR, not created), $home and $tmpd (HOME and TMPDIR).
new_case() {
  n=$((n + 1))
  local c="$tmp/case$n"
  vendors="$c/vendors"; icd="$c/icd"; home="$c/home"; tmpd="$c/tmp"
  mkdir -p "$vendors" "$home" "$tmpd"
}
# run_widenet [VAR=value...]: runs the bundle's `widenet a1 'b 2'`; sets rc, out, err.
run_widenet() {
  out=$(cd "$tmp" && env -i PATH="$PATH" HOME="$home" TMPDIR="$tmpd" WIDENET_NVIDIA_FIND=0 \
          WIDENET_ICD_DIR="$icd" OCL_ICD_VENDORS="$vendors" "$@" "$bundle/widenet" a1 "b 2" 2>"$tmp/stderr")
  rc=$?
  err=$(cat -- "$tmp/stderr")
}

# --- checks (each records the first failure of a case in $why) ------------------------------------
fail() { [ -n "$why" ] || why=$*; }
oneline() { printf '%s' "$1" | tr '\n' '|'; }
has_out() { printf '%s\n' "$out" | grep -qxF -- "$1"; }
out_value() { printf '%s\n' "$out" | sed -n "s/^$1=//p" | head -n1; }
want_ran() {
  [ "$rc" = 0 ] || fail "exit status $rc (stderr: $(oneline "$err"))"
  has_out "args: a1 b 2" || fail "bin/widenet did not run with the arguments (stdout: $(oneline "$out"))"
}
want_vendors() {
  has_out "OCL_ICD_VENDORS=$1" || fail "OCL_ICD_VENDORS is '$(out_value OCL_ICD_VENDORS)', want '$1'"
}
want_ldpath() {
  has_out "LD_LIBRARY_PATH=$1" || fail "LD_LIBRARY_PATH is '$(out_value LD_LIBRARY_PATH)', want '$1'"
}
want_icd() { # lib: the launcher's nvidia.icd names lib, and bin/widenet sees it through OCL_ICD_VENDORS
  local got
  got=$(cat -- "$icd/nvidia.icd" 2>/dev/null)
  [ "$got" = "$1" ] || fail "nvidia.icd names '${got:-<none written>}', want '$1'"
  want_vendors "$icd"
  has_out "icd nvidia.icd file: $1" || fail "bin/widenet does not see an nvidia.icd naming $1 (stdout: $(oneline "$out"))"
}
want_no_icd() { # the launcher wrote no ICD file and left OCL_ICD_VENDORS as it was
  [ ! -e "$icd/nvidia.icd" ] || fail "an nvidia.icd was written, naming '$(cat -- "$icd/nvidia.icd")'"
  want_vendors "$vendors"
}
want_no_icd_folder() { [ ! -e "$icd" ] || fail "the ICD folder was created"; }
want_none() { if [ -n "$sys_lib" ]; then want_icd "$sys_lib"; else want_no_icd; fi; }
want_err_empty() { [ -z "$err" ] || fail "unexpected stderr: $(oneline "$err")"; }
want_err_has() {
  case "$err" in *"$1"*) ;; *) fail "stderr lacks '$1' (stderr: $(oneline "$err"))" ;; esac
}
want_none_loads() { # "path: reason": the one stderr line when NVIDIA libraries were found but none loads
  if [ -n "$sys_lib" ]; then want_err_empty; return; fi
  want_err_has "widenet: no NVIDIA OpenCL library that loads ("
  want_err_has "$1"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "stderr has more than one line: $(oneline "$err")"
}
result() {
  if [ -z "$why" ]; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1: $why"; failed=$((failed + 1)); fi
  why=""
}

# --- cases ----------------------------------------------------------------------------------------
# (6) No NVIDIA library of ours at all (also tells whether this machine has one the launcher finds).
new_case
run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/empty:$tmp/does-not-exist"
sys_lib=$(cat -- "$icd/nvidia.icd" 2>/dev/null)
case "$sys_lib" in "$tmp"/*) fail "an ICD names a library of the test that was never offered: $sys_lib"; sys_lib="" ;; esac
if [ -n "$sys_lib" ]; then
  echo "note: this machine's own $sys_lib is found by the launcher's system search; the cases that expect no library expect it"
fi
want_ran
want_none
want_ldpath "$bundle/lib"
case "$err" in
  "") ;;
  *"$tmp"*|*$'\n'*) fail "unexpected stderr: $(oneline "$err")" ;;
  "widenet: no NVIDIA OpenCL library that loads ("*) ;;  # only this machine's own broken libraries
  *) fail "unexpected stderr: $(oneline "$err")" ;;
esac
result "no NVIDIA library: bin/widenet runs, no ICD written"

# (2) Not an ELF file (a text file named libnvidia-opencl.so.1): skipped, one line on stderr.
new_case
run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/notelf"
want_ran; want_none
want_none_loads "$L/notelf/libnvidia-opencl.so.1: is not an ELF file"
result "not an ELF file: skipped, one stderr line"

new_case
run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/notelf" WIDENET_BUNDLE_DEBUG=1
want_ran; want_none
want_err_has "widenet-bundle: skipping $L/notelf/libnvidia-opencl.so.1: is not an ELF file"
result "not an ELF file: debug note with WIDENET_BUNDLE_DEBUG=1"

# WIDENET_NVIDIA_SEARCH=0: nothing is searched or written, even with a library on offer.
new_case
run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/notelf" WIDENET_NVIDIA_SEARCH=0
want_ran; want_no_icd; want_err_empty
want_no_icd_folder
result "WIDENET_NVIDIA_SEARCH=0: OpenCL setup left as it is"

# OCL_ICD_VENDORS naming a file: left as it is.
new_case
printf 'libpocl.so.2\n' > "$vendors/pocl.icd"
run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/notelf" OCL_ICD_VENDORS="$vendors/pocl.icd"
want_ran; want_vendors "$vendors/pocl.icd"; want_err_empty
want_no_icd_folder
result "OCL_ICD_VENDORS naming a file: left as it is"

# The glibc check: a bundle that needs a newer glibc than this machine's stops before bin/widenet.
if glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null); then
  new_case
  make_bundle "$tmp/new glibc bundle/widenet" 99.0
  saved_bundle=$bundle; bundle="$tmp/new glibc bundle/widenet"
  run_widenet WIDENET_NVIDIA_SEARCH=0
  bundle=$saved_bundle
  [ "$rc" = 1 ] || fail "exit status $rc, want 1"
  has_out "args: a1 b 2" && fail "bin/widenet ran"
  want_err_has "widenet: this bundle needs glibc 99.0 or newer; this machine has glibc ${glibc##* }"
  result "glibc older than the bundle needs: refused"
else
  echo "skipped: glibc too old (getconf GNU_LIBC_VERSION fails)"
fi

if [ "$have_elf" = 0 ]; then
  if [ -z "$cc_bin" ]; then
    echo "skipped: no C compiler (cc, gcc, clang): the cases with ELF libraries"
  else
    why="$cc_bin: $(oneline "$build_error")"
    result "building the fake NVIDIA libraries"
  fi
else
  good="$L/good/libnvidia-opencl.so.1"

  # (1) a good library in WIDENET_NVIDIA_LIB_DIRS; the other ICD files are linked next to it.
  new_case
  printf 'libpocl.so.2\n' > "$vendors/pocl.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good" LD_LIBRARY_PATH="$L/orig"
  want_ran; want_icd "$good"; want_err_empty
  want_ldpath "$bundle/lib:$L/orig"
  has_out "icd pocl.icd link: libpocl.so.2" || fail "pocl.icd is not linked into the ICD folder (stdout: $(oneline "$out"))"
  [ "$(readlink -- "$icd/pocl.icd")" = "$vendors/pocl.icd" ] || fail "$icd/pocl.icd is not a link to $vendors/pocl.icd"
  result "good library: ICD written, other ICDs linked, lib/ first on LD_LIBRARY_PATH"

  # (1b) the same again: nvidia.icd is kept as it is.
  before=$(ls -i -- "$icd/nvidia.icd")
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good" LD_LIBRARY_PATH="$L/orig"
  want_ran; want_icd "$good"; want_err_empty
  [ "$(ls -i -- "$icd/nvidia.icd")" = "$before" ] || fail "nvidia.icd was rewritten although it did not change"
  result "good library, second run: ICD file kept"

  # (1c) OCL_ICD_VENDORS relative to the working folder: the links still point at its ICD files.
  new_case
  printf 'libpocl.so.2\n' > "$vendors/pocl.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good" OCL_ICD_VENDORS="case$n/vendors"   # run_widenet runs in $tmp
  want_ran; want_icd "$good"; want_err_empty
  has_out "icd pocl.icd link: libpocl.so.2" || fail "pocl.icd is not linked, or the link is dangling (stdout: $(oneline "$out"))"
  result "OCL_ICD_VENDORS relative: other ICDs linked by absolute path"

  # (1d) links of an earlier run to ICD files that are gone or of another vendors folder: removed.
  new_case
  mkdir -p "$icd" "$tmp/case$n/other-vendors"
  printf 'libother.so\n' > "$tmp/case$n/other-vendors/other.icd"
  printf 'libpocl.so.2\n' > "$vendors/pocl.icd"
  ln -s "$tmp/case$n/other-vendors/other.icd" "$icd/other.icd"
  ln -s "$vendors/gone.icd" "$icd/gone.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good"
  want_ran; want_icd "$good"; want_err_empty
  if [ -L "$icd/other.icd" ] || [ -L "$icd/gone.icd" ]; then fail "a stale link (other.icd or gone.icd) was kept"; fi
  has_out "icd pocl.icd link: libpocl.so.2" || fail "pocl.icd is not linked into the ICD folder"
  result "stale links in the ICD folder: removed"

  # (2b) an ELF shared object for another machine (e_machine patched to aarch64).
  new_case
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/arm"
  want_ran; want_none
  want_none_loads "$L/arm/libnvidia-opencl.so.1: is not built for x86-64 (ELF machine 0x00b7)"
  result "not an x86-64 ELF file: skipped, one stderr line"

  # (3) a dependency that is not found.
  if [ "$have_ldd" = 1 ]; then
    new_case
    run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/missingdep"
    want_ran; want_none
    want_none_loads "$L/missingdep/libnvidia-opencl.so.1: its dependencies libmissingdep.so are not found"
    result "dependency not found: skipped, one stderr line"

    # (4) a broken one first, a good one second: the good one.
    new_case
    run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/missingdep:$L/notelf:$L/good" WIDENET_BUNDLE_DEBUG=1
    want_ran; want_icd "$good"
    want_err_has "widenet-bundle: skipping $L/missingdep/libnvidia-opencl.so.1: its dependencies libmissingdep.so are not found"
    want_err_has "widenet-bundle: skipping $L/notelf/libnvidia-opencl.so.1: is not an ELF file"
    want_err_has "widenet-bundle: found via WIDENET_NVIDIA_LIB_DIRS: $good"
    case "$err" in *"widenet: no NVIDIA"*) fail "the 'none loads' line although one loads" ;; esac
    result "broken libraries first, good one second: the good one"
  else
    echo "skipped: no ldd: the dependency-not-found cases"
  fi

  # (4b) one folder: a broken .so.1 and a good versioned file.
  new_case
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/mixed"
  want_ran; want_icd "$L/mixed/libnvidia-opencl.so.550.54.14"; want_err_empty
  result "broken .so.1, good versioned file in the same folder: the versioned one"

  # (5a) an ICD file names a broken library by its full path: ignored, a good one is found and the
  # broken ICD file is not linked; the other ICD files are.
  new_case
  printf '%s\n' "$L/notelf/libnvidia-opencl.so.1" > "$vendors/nvidia-broken.icd"
  printf 'libpocl.so.2\n' > "$vendors/pocl.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good" WIDENET_BUNDLE_DEBUG=1
  want_ran; want_icd "$good"
  want_err_has "widenet-bundle: skipping $L/notelf/libnvidia-opencl.so.1: is not an ELF file (named by $vendors/nvidia-broken.icd)"
  if [ -e "$icd/nvidia-broken.icd" ] || [ -L "$icd/nvidia-broken.icd" ]; then fail "the broken ICD file was linked into the ICD folder"; fi
  has_out "icd pocl.icd link: libpocl.so.2" || fail "pocl.icd is not linked into the ICD folder"
  result "ICD names a broken library by path: replaced by a good one"

  # (5a') the same without a good library anywhere: the stderr line, no ICD written.
  new_case
  printf '%s\n' "$L/notelf/libnvidia-opencl.so.1" > "$vendors/nvidia.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/empty"
  want_ran; want_none
  want_none_loads "$L/notelf/libnvidia-opencl.so.1: is not an ELF file (named by $vendors/nvidia.icd)"
  result "ICD names a broken library, none other: one stderr line"

  # (5b) an ICD file names a good library by its full path: left as it is (no search).
  new_case
  printf '%s\n' "$good" > "$vendors/nvidia.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good2"
  want_ran; want_no_icd; want_err_empty
  has_out "icd nvidia.icd file: $good" || fail "bin/widenet does not see the vendors' nvidia.icd"
  want_no_icd_folder
  result "ICD names a good library by path: left as it is"

  # (5c) an ICD file names a bare soname that LD_LIBRARY_PATH resolves to a good library.
  new_case
  printf 'libnvidia-opencl.so.1\n' > "$vendors/nvidia.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good2" LD_LIBRARY_PATH="$L/good"
  want_ran; want_no_icd; want_err_empty
  want_ldpath "$bundle/lib:$L/good"
  want_no_icd_folder
  result "ICD names a bare soname on LD_LIBRARY_PATH: left as it is"

  # (5d) a bare soname that LD_LIBRARY_PATH resolves to a broken library: a good one is found.
  new_case
  printf 'libnvidia-opencl.so.1\n' > "$vendors/nvidia.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good" LD_LIBRARY_PATH="$L/notelf"
  want_ran; want_icd "$good"; want_err_empty
  result "ICD names a bare soname that is broken: replaced by a good one"

  # (7a) what an earlier run found is used again when nothing else is.
  new_case
  mkdir -p "$icd" && printf '%s\n' "$good" > "$icd/nvidia.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/empty"
  want_ran; want_icd "${sys_lib:-$good}"; want_err_empty
  result "library of an earlier run: used again"

  # (7b) an earlier run's library that no longer loads is replaced.
  new_case
  mkdir -p "$icd" && printf '%s\n' "$L/missingdep/libnvidia-opencl.so.1" > "$icd/nvidia.icd"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good"
  want_ran; want_icd "$good"; want_err_empty
  result "library of an earlier run: replaced when a good one is found first"

  # (8) no writable folder for an ICD file: OCL_ICD_VENDORS names the library itself.
  new_case
  : > "$tmp/case$n/a-file"
  run_widenet WIDENET_NVIDIA_LIB_DIRS="$L/good" WIDENET_ICD_DIR="$tmp/case$n/a-file/vendors" \
    HOME="$tmp/case$n/a-file" TMPDIR="$tmp/case$n/a-file"
  want_ran; want_vendors "$good"; want_err_empty
  result "no writable ICD folder: OCL_ICD_VENDORS names the library"
fi

echo "launcher: $passed passed, $failed failed"
[ "$failed" = 0 ]
