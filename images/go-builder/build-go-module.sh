#!/bin/sh
# build-go-module [--as-dependency] MODULE@VERSION OUT_DIR [go build flags...] ./PACKAGE...
# Fetch a module from the Go module proxy (checked against the checksum database) and
# build packages of it, static, into OUT_DIR.
#   default          build inside the module's own source, with its go.mod (and its
#                    replace directives, which spark-operator relies on);
#   --as-dependency  build from a wrapper module that requires it, for modules whose
#                    replace directives point at nested modules the proxy's zip leaves
#                    out (prometheus-operator).
set -eu
mode=in-module
if [ "$1" = --as-dependency ]; then mode=dependency; shift; fi
module=$1; out=$2; shift 2
path=${module%@*}; version=${module#*@}
mkdir -p /tmp/wrap "$out"
cd /tmp/wrap
[ -f go.mod ] || printf 'module wrap\n' > go.mod
if [ "$mode" = in-module ]; then
  src=$(go mod download -json "$module" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "build-go-module: cannot fetch $module" >&2; exit 1; }
  cd "$src"
  go build -o "$out/" "$@"
else
  # Keep the build flags in "$@" (rotated through it), take the packages out.
  packages=""
  count=$#
  while [ "$count" -gt 0 ]; do
    arg=$1; shift; count=$((count - 1))
    case "$arg" in
      ./*) packages="$packages $path/${arg#./}"; go get "$path/${arg#./}@$version" ;;
      *) set -- "$@" "$arg" ;;
    esac
  done
  # shellcheck disable=SC2086  # packages is a list of import paths
  go build -o "$out/" "$@" $packages
fi
