#!/usr/bin/env bash
# Builds a CPython from the source tarball that Debian's archive serves, into a fixed prefix,
# once: later runs on the same machine find it and return at once.
#
#   scripts/build-python.sh 3.14      -> prints the interpreter's path (/opt/taskscope-python/3.14/bin/python3.14)
#
# Tries a short list of patch releases, newest first, because the archive drops old tarballs.
# The build runs at low priority (nice) so that it disturbs other work as little as it can.
set -euo pipefail

minor="${1:?usage: build-python.sh 3.13|3.14}"
root="${TASKSCOPE_PYTHON_ROOT:-/opt/taskscope-python}"
prefix="$root/$minor"
python="$prefix/bin/python$minor"

if [ -x "$python" ] && "$python" -c 'import asyncio, ssl, zlib' 2>/dev/null; then
  echo "$python"
  exit 0
fi

case "$minor" in
  3.14) patches="3.14.9 3.14.8 3.14.7 3.14.6 3.14.5 3.14.4" ;;
  3.13) patches="3.13.9 3.13.8 3.13.7 3.13.6 3.13.5 3.13.4" ;;
  *) echo "build-python.sh: no source list for Python $minor" >&2; exit 2 ;;
esac

need=(libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev curl xz-utils)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "build-python.sh: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || { echo "build-python.sh: no Debian mirror in /etc/apt/sources.list.d/debian.sources" >&2; exit 1; }

work="$root/src"
mkdir -p "$work"
tarball=""
for v in $patches; do
  name="python${minor}_${v}.orig.tar.xz"
  if [ -s "$work/$name" ]; then tarball="$work/$name"; version="$v"; break; fi
  if curl -fsSL -o "$work/$name.part" "$mirror/pool/main/p/python$minor/$name" 2>/dev/null; then
    mv "$work/$name.part" "$work/$name"; tarball="$work/$name"; version="$v"; break
  fi
  rm -f "$work/$name.part"
done
[ -n "$tarball" ] || { echo "build-python.sh: none of $patches is in the archive any more; add the current one to the list" >&2; exit 1; }

echo "build-python.sh: building CPython $version into $prefix (about 8 minutes on two cores)" >&2
rm -rf "$work/Python-$version"
tar -C "$work" -xf "$tarball"
cd "$work/Python-$version"
nice -n 10 ./configure --prefix="$prefix" --without-ensurepip >"$work/configure-$version.log" 2>&1
nice -n 10 make -j"$(nproc)" >"$work/make-$version.log" 2>&1
make install >"$work/install-$version.log" 2>&1
rm -rf "$work/Python-$version"
"$python" -c 'import asyncio, ssl, zlib'
echo "$python"
