#!/usr/bin/env bash
# Build the one-node cluster's binaries from the Go module proxy, once per version:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl,
# etcd and pause from this module; CoreDNS from ./coredns. Output and stamp go to
# OUT (default .tools/k8s/<version>/bin, git-ignored); the Go build cache outside the
# checkout makes a rebuild after a fresh clone take minutes instead of ten.
#
#   bash cluster/build/build.sh [OUT]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
K8S_VERSION="$(sed -nE 's#^\s*k8s.io/kubernetes (v[0-9.]+)$#\1#p' "$here/go.mod")"
out="${1:-$root/.tools/k8s/$K8S_VERSION/bin}"
say() { printf '[k8s-build] %s\n' "$*" >&2; }

want="$K8S_VERSION $(cat "$here/go.mod" "$here/go.sum" "$here"/cmd/*/main.go "$here"/coredns/go.mod "$here"/coredns/go.sum "$here"/coredns/*.go | sha256sum | cut -c1-16)"
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$want" ]]; then
  say "binaries up to date ($K8S_VERSION in ${out#$root/})"
  exit 0
fi
command -v go >/dev/null || { say "ERROR: the go command is needed"; exit 1; }
mkdir -p "$out"
major="${K8S_VERSION#v}"; minor="${major#*.}"; major="${major%%.*}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
export CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath -buildvcs=false"
started=$SECONDS
say "building Kubernetes $K8S_VERSION (cold: about 10 minutes on 2 cores; warm Go cache: about 3)"
(cd "$here" && go build -ldflags "$ldflags" -o "$out/" ./cmd/...)
say "building CoreDNS (cluster DNS)"
(cd "$here/coredns" && go build -ldflags "-s -w" -o "$out/coredns" .)
printf '%s' "$want" > "$out/.stamp"
say "done in $((SECONDS - started)) s: $(ls "$out" | tr '\n' ' ')"
