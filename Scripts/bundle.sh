#!/usr/bin/env bash
# Builds widenet as ONE folder that runs on any x86-64 Linux machine with glibc (no Swift needed),
# e.g. a GPU machine that has only the NVIDIA driver:
#
#   Scripts/bundle.sh [OUTPUT_FOLDER]          # default: bundle/widenet (git-ignored)
#   scp -r bundle/widenet gpu-host:  &&  ssh gpu-host 'cd widenet && ./widenet devices && ./widenet train'
#
# It runs `swift build -c release --static-swift-stdlib --product widenet` (Swift runtime linked in),
# then rebuilds OUTPUT_FOLDER from scratch:
#   widenet      launcher: puts lib/ on LD_LIBRARY_PATH, makes the NVIDIA OpenCL driver visible when
#                no ICD file names it, execs bin/widenet (template: Scripts/bundle/launcher.sh)
#   bin/widenet  the program
#   lib/         every non-glibc shared library `ldd` lists (OpenBLAS, LAPACK(E), libgfortran,
#                libquadmath, the ocl-icd libOpenCL, ...); lib/gcc/ holds libstdc++ and libgcc_s,
#                which the launcher uses only when the machine's own are missing or too old
#   probe.sh     what a machine offers (driver, ICD files, libnvidia-opencl, loaders, glibc, CPU)
#   README.txt   how to run it, the glibc it needs, what is inside
#   licenses/    the Debian copyright files of the bundled libraries
# and OUTPUT_FOLDER.tar.xz beside it (bundle/widenet.tar.xz: the folder as one compressed file, what
# Benchmarks/gpu_round.sh unpacks on a GPU machine), which must stay within 64 MiB (the limit of what
# travels to that machine); over it, bundle.sh fails.
# glibc (libc, libm, libpthread, libdl, librt, ld-linux, ...) and libnvidia-*/libcuda are never bundled.
#
# Environment:
#   SWIFT_BUILD_FLAGS       extra `swift build` flags (split on spaces)
#   WIDENET_BUNDLE_SCRATCH  the build folder (default .build-bundle, so it doesn't fight other builds)
#   WIDENET_BUNDLE_STRIP=0  keep the debug info in bin/widenet (default: strip --strip-debug)
# The launcher's own settings (WIDENET_BUNDLE_DEBUG=1 to see what it finds; WIDENET_NVIDIA_LIB_DIRS=
# dir1:dir2, folders searched first for libnvidia-opencl.so*, also handy for testing it with a fake
# library; WIDENET_NVIDIA_SEARCH, WIDENET_NVIDIA_FIND, WIDENET_ICD_DIR) are described at the top of
# Scripts/bundle/launcher.sh.
set -euo pipefail

die() { echo "bundle.sh: error: $*" >&2; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -le 1 ] || die "usage: Scripts/bundle.sh [OUTPUT_FOLDER]"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
templates="$root/Scripts/bundle"
out=${1:-$root/bundle/widenet}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
out=${out%/}
[ -n "$out" ] && [ "$out" != "$root" ] && [ "$out" != "${HOME:-/}" ] || die "refusing to use $out as the output folder"
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -e "$out/.widenet-bundle" ]; then
  die "$out exists, is not empty and is not a widenet bundle; remove it or pick another folder"
fi
for tool in swift ldd readelf awk sort; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH"
done
cd "$root"

# --- build ---------------------------------------------------------------------------------------
scratch=${WIDENET_BUNDLE_SCRATCH:-.build-bundle}
read -r -a extra_flags <<< "${SWIFT_BUILD_FLAGS:-}"
build=(swift build -c release --static-swift-stdlib --scratch-path "$scratch" ${extra_flags[@]+"${extra_flags[@]}"})
echo "bundle.sh: ${build[*]} --product widenet" >&2
"${build[@]}" --product widenet >&2 || die "swift build failed (see the messages above)"
bin_dir=$("${build[@]}" --show-bin-path) || die "swift build --show-bin-path failed"
exe="$bin_dir/widenet"
[ -x "$exe" ] || die "the build produced no $exe"

# --- assemble in a staging folder, then swap it in -----------------------------------------------
stage="$(dirname "$out")/.$(basename "$out").staging.$$"
mkdir -p "$(dirname "$out")"
rm -rf "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib/gcc" "$stage/licenses"
touch "$stage/.widenet-bundle"

cp "$exe" "$stage/bin/widenet"
if [ "${WIDENET_BUNDLE_STRIP:-1}" != 0 ] && command -v strip >/dev/null; then
  strip --strip-debug "$stage/bin/widenet" || die "strip failed on bin/widenet"
fi
# Resource bundles of the product, if any (the kernels are embedded in code today).
for r in "$bin_dir"/*.resources; do
  [ -e "$r" ] && cp -R "$r" "$stage/bin/"
done

is_glibc() {
  case "$1" in
    linux-vdso.so*|ld-linux*|libc.so.*|libm.so.*|libmvec.so.*|libpthread.so.*|libdl.so.*|librt.so.*|\
    libutil.so.*|libresolv.so.*|libanl.so.*|libnsl.so.*|libnss_*|libBrokenLocale.so.*|libthread_db.so.*|\
    libc_malloc_debug.so.*) return 0 ;;
  esac
  return 1
}
is_driver() { case "$1" in libnvidia-*|libcuda.so*) return 0 ;; esac; return 1; }
is_swift_runtime() {
  case "$1" in
    libswift*|libFoundation*|lib_Foundation*|libdispatch.so*|libBlocksRuntime.so*|libXCTest.so*) return 0 ;;
  esac
  return 1
}

# Every library the dynamic loader resolves for bin/widenet (ldd gives the whole closure).
declare -A source_of=()
ldd_out=$(LD_LIBRARY_PATH="" ldd "$exe") || die "ldd $exe failed"
while read -r name arrow path _; do
  [ "$arrow" = "=>" ] || continue
  is_glibc "$name" && continue
  is_driver "$name" && continue
  is_swift_runtime "$name" && die "$name is linked dynamically: the Swift runtime must be static (--static-swift-stdlib)"
  [ "$path" = "not" ] && die "library $name (needed by bin/widenet) cannot be found; run Scripts/setup.sh"
  [ -r "$path" ] || die "library $name resolves to $path, which cannot be read"
  case "$name" in
    libstdc++.so.*|libgcc_s.so.*) dest="$stage/lib/gcc/$name" ;;
    *) dest="$stage/lib/$name" ;;
  esac
  cp -L "$path" "$dest" || die "cannot copy $path"
  chmod 0755 "$dest"
  source_of[$name]=$(readlink -f "$path")
done <<< "$ldd_out"
[ -e "$stage/lib/libOpenCL.so.1" ] || die "bin/widenet does not link libOpenCL.so.1 (ocl-icd-libopencl1 missing?)"
[ -e "$stage/lib/libopenblas.so.0" ] || die "bin/widenet does not link libopenblas.so.0 (libopenblas0 missing?)"

# Check: with the bundle's lib folders first, nothing outside glibc resolves outside the bundle.
bundle_libpath="$stage/lib:$stage/lib/gcc"
for f in "$stage/bin/widenet" "$stage"/lib/*.so* "$stage"/lib/gcc/*.so*; do
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    is_glibc "$name" && continue
    [ "$path" = "not" ] && die "$(basename "$f") needs $name, which is not in the bundle"
    case "$path" in "$stage"/*) ;; *) die "$(basename "$f") resolves $name to $path, outside the bundle" ;; esac
  done < <(LD_LIBRARY_PATH="$bundle_libpath" ldd "$f")
done

# The symbol versions the bundle needs: the newest GLIBC_x.y, and per library of lib/gcc the newest
# version of each family (GLIBCXX_, CXXABI_, GCC_), for the launcher's "is the system's new enough".
version_needs=$(for f in "$stage/bin/widenet" "$stage"/lib/*.so* "$stage"/lib/gcc/*.so*; do
  readelf -V -W "$f" | awk '
    /^Version needs section/ { inr = 1; next }
    /^Version (definition|symbols) section/ { inr = 0 }
    inr && /File:/ { for (i = 1; i <= NF; i++) if ($i == "File:") file = $(i + 1) }
    inr && /Name:/ { for (i = 1; i <= NF; i++) if ($i == "Name:") print file, $(i + 1) }'
done | sort -u)
newest_glibc() { # files...: the newest GLIBC_x.y they need
  local f
  for f in "$@"; do readelf -V -W "$f"; done | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/^Name: GLIBC_//' | sort -V | tail -n1
}
glibc_min=$(newest_glibc "$stage/bin/widenet" "$stage"/lib/*.so*)
glibc_min_gcc=$(newest_glibc "$stage"/lib/gcc/*.so*)
[ -n "$glibc_min" ] && [ -n "$glibc_min_gcc" ] || die "could not read the glibc version the bundle needs (readelf -V)"
gcc_libs=" $(cd "$stage/lib/gcc" && ls -- *.so* 2>/dev/null | tr '\n' ' ')"
gcc_needs=$(awk -v libs="$gcc_libs" 'index(libs, " " $1 " ") && $2 ~ /_[0-9.]+$/ {
      fam = $2; sub(/_[0-9.]+$/, "", fam); print $1, fam, $2 }' <<< "$version_needs" |
  sort -k1,1 -k2,2 -k3,3V |
  awk '{ last[$1 " " $2] = $1 ":" $3 } END { for (k in last) print last[k] }' | sort | tr '\n' ' ')
gcc_needs=${gcc_needs% }

# --- launcher, probe, README, licenses -----------------------------------------------------------
sed -e "s|@GLIBC_MIN@|$glibc_min|" -e "s|@GLIBC_MIN_GCC@|$glibc_min_gcc|" -e "s|@GCC_NEEDS@|$gcc_needs|" "$templates/launcher.sh" > "$stage/widenet"
cp "$templates/probe.sh" "$stage/probe.sh"
chmod 0755 "$stage/widenet" "$stage/probe.sh"

contents=$(cd "$stage" && for f in bin/widenet lib/*.so* lib/gcc/*.so*; do
  [ -e "$f" ] || continue
  name=${f##*/}; src=${source_of[$name]:-}; pkg=""
  if [ -n "$src" ] && command -v dpkg-query >/dev/null; then
    pkg=$(dpkg -S "$src" 2>/dev/null | head -n1 | cut -d: -f1 || true)
    if [ -n "$pkg" ]; then
      pkg="$pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)"
      if [ -r "/usr/share/doc/${pkg%% *}/copyright" ]; then cp "/usr/share/doc/${pkg%% *}/copyright" "licenses/${pkg%% *}.copyright"; fi
    fi
  fi
  printf '  %-26s %5s  %s\n' "$f" "$(du -h "$f" | cut -f1)" "${src:+from $src${pkg:+ ($pkg)}}"
done)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+local changes"; fi
build_info="$(date -u +%Y-%m-%dT%H:%MZ), commit $commit, $(swift --version 2>/dev/null | head -n1), on $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
{
  while IFS= read -r line; do
    case "$line" in
      *@CONTENTS@*) printf '%s\n' "$contents" ;;
      *) line=${line//@GLIBC_MIN_GCC@/$glibc_min_gcc}; line=${line//@GLIBC_MIN@/$glibc_min}; printf '%s\n' "${line//@BUILD_INFO@/$build_info}" ;;
    esac
  done < "$templates/README.txt"
  printf '  %-26s        %s\n' "lib/gcc" "used only when the system's libstdc++/libgcc_s lack: $gcc_needs"
} > "$stage/README.txt"

# Smoke test: the binary loads with only the bundle and glibc, and the launcher stays silent.
smoke=$(env -i PATH=/usr/bin:/bin HOME="$stage" WIDENET_NVIDIA_SEARCH=0 "$stage/widenet" --help 2>&1) ||
  die "the bundled widenet does not start: $(printf '%s' "$smoke" | head -n3 | tr '\n' ' ')"

rm -rf "$out"
mv "$stage" "$out"
trap - EXIT
echo "bundle: $out ($(du -sh "$out" | cut -f1); glibc >= $glibc_min)"

# --- the compressed bundle, and its size limit ----------------------------------------------------
tarball="$out.tar.xz"
limit=$((64 * 1024 * 1024))
tmp_tar="$(dirname "$out")/.$(basename "$out").tar.xz.$$"
trap 'rm -f "$tmp_tar"' EXIT
tar -C "$(dirname "$out")" -cJf "$tmp_tar" "$(basename "$out")" || die "tar -cJf of $out failed"
mv -f "$tmp_tar" "$tarball"
trap - EXIT
size=$(wc -c < "$tarball" | tr -d ' ')
echo "bundle: $tarball $size bytes ($((size / 1048576)) MiB; limit 64 MiB)"
[ "$size" -le "$limit" ] || die "$tarball is $size bytes, over the 64 MiB ($limit bytes) that can travel to a GPU machine"
