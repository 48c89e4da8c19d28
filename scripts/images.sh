#!/usr/bin/env bash
# make images: build every images/*/Dockerfile with podman, from debian:bookworm-slim.
# When no registry answers, the base is made here with mmdebstrap under that same name,
# so the Dockerfiles are the ones docker or Cloud Build use elsewhere. Tags are
# localhost/stockpulse-<name>:<tag>; layers are cached in podman's default storage, so a
# rebuild after a fresh clone redoes only what changed.
#
#   bash scripts/images.sh [NAME...]        # default: every image
#   IMAGE_TAG=0.1.1 bash scripts/images.sh api
# Environment: IMAGE_TAG (default: the chart's appVersion), IMAGE_LABELS (space-separated
# key=value labels, e.g. to make a changed image for an upgrade test), BUILD_CA (a PEM
# bundle handed to fetch stages as the build secret `build-ca`; default: the system bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[images] %s\n' "$*" >&2; }

export CONTAINERS_CONF="$PWD/cluster/podman/containers.conf"
export CONTAINERS_STORAGE_CONF="$PWD/cluster/podman/storage.conf"
BASE=docker.io/library/debian:bookworm-slim
TAG=${IMAGE_TAG:-$(sed -nE 's/^appVersion: *"?([^"]+)"?$/\1/p' charts/stockpulse/Chart.yaml)}
BUILD_CA=${BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
# Build order: the operators build in go-builder; spark-operator is built on the Spark image.
ALL=(pause postgres kafka hive-metastore api locust spark go-builder spark-operator prometheus-operator prometheus)

for tool in podman mmdebstrap; do
  command -v "$tool" >/dev/null || { say "ERROR: $tool is missing: run make setup (it installs Debian's podman, buildah, mmdebstrap)"; exit 1; }
done

ensure_base() {
  if podman image exists "$BASE"; then
    return
  fi
  if timeout 60 podman pull -q "$BASE" >/dev/null 2>&1; then
    say "pulled $BASE"
    return
  fi
  say "no registry answers: creating $BASE with mmdebstrap (about 90 s)"
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  mmdebstrap --quiet --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
    bookworm "$tmp/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  podman import --quiet --change 'CMD ["bash"]' "$tmp/rootfs.tar" "$BASE" >/dev/null
}

build() {
  local name=$1 started=$SECONDS
  local args=(--pull=never --layers --file "images/$name/Dockerfile" --tag "localhost/stockpulse-$name:$TAG"
    --build-arg "BASE_IMAGE=$BASE" --secret "id=build-ca,src=$BUILD_CA")
  [[ $name == spark-operator ]] && args+=(--build-arg "SPARK_IMAGE=localhost/stockpulse-spark:$TAG")
  if [[ $name == *-operator || $name == prometheus ]]; then
    args+=(--build-arg "GO_BUILDER_IMAGE=localhost/stockpulse-go-builder:$TAG")
    # podman only: lend the build this machine's Go module and build caches (warm after
    # the local cluster's own build), which saves minutes on a fresh clone.
    if command -v go >/dev/null; then
      args+=(--volume "$(go env GOMODCACHE):/go/pkg/mod" --volume "$(go env GOCACHE):/root/.cache/go-build")
    fi
  fi
  for label in ${IMAGE_LABELS:-}; do args+=(--label "$label"); done
  say "building stockpulse-$name:$TAG"
  local before; before=$(podman image inspect --format '{{.Id}}' "localhost/stockpulse-$name:$TAG" 2>/dev/null || true)
  if ! podman build --quiet "${args[@]}" . > "$log_dir/$name.log" 2>&1; then
    tail -n 40 "$log_dir/$name.log" >&2
    say "ERROR: stockpulse-$name failed (whole log: $log_dir/$name.log)"
    exit 1
  fi
  # The image the tag named before, now untagged: removed, or podman's storage grows by
  # gigabytes per rebuild. Only that image: the build cache of every stage stays (a plain
  # `podman image prune` would drop the earlier stages' layers of multi-stage builds).
  local after; after=$(podman image inspect --format '{{.Id}}' "localhost/stockpulse-$name:$TAG")
  if [[ -n $before && $before != "$after" ]] && podman rmi "$before" >/dev/null 2>&1; then
    say "removed the superseded stockpulse-$name image"
  fi
  say "stockpulse-$name:$TAG built in $((SECONDS - started)) s"
}

log_dir=.run/images
mkdir -p "$log_dir"
ensure_base
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${ALL[@]}")
for name in "${names[@]}"; do
  [[ -f images/$name/Dockerfile ]] || { say "ERROR: no images/$name/Dockerfile"; exit 2; }
  build "$name"
done
