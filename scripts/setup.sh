#!/usr/bin/env bash
# Idempotent set-up: venv + pinned Python packages, Maven jars, Kubernetes tools.
# Each step is skipped when its inputs have not changed since the last run (stamps in .venv/ and .jars/).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

stamp_ok() {  # stamp_ok STAMP INPUT...: true when STAMP is newer than every input
  local stamp=$1; shift
  [ -f "$stamp" ] || return 1
  for input in "$@"; do [ "$input" -nt "$stamp" ] && return 1; done
  return 0
}

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
if stamp_ok .venv/.installed pyproject.toml toolbox/pyproject.toml constraints.txt; then
  say "python packages up to date"
else
  say "installing pinned python packages into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q -c constraints.txt --upgrade pip
  # the product (with the tests' tools) and the toolbox, two distributions, both editable
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]' -e ./toolbox
  touch .venv/.installed
fi

fetch_jars() {  # fetch_jars NAME: jars of jvm/NAME/pom.xml into .jars/NAME
  local name=$1
  if stamp_ok ".jars/$name/.fetched" "jvm/$name/pom.xml"; then
    say "$name jars up to date"
  else
    say "fetching $name jars from Maven Central (jvm/$name/pom.xml)"
    rm -rf ".jars/$name"
    mkdir -p .jars
    if ! mvn -q -B -Dstyle.color=never -f "jvm/$name/pom.xml" dependency:copy-dependencies > ".jars/$name.log" 2>&1; then
      cat ".jars/$name.log" >&2
      exit 1
    fi
    touch ".jars/$name/.fetched"
  fi
}
for name in kafka spark derby; do
  [ -f "jvm/$name/pom.xml" ] && fetch_jars "$name"
done

debian_tools() {  # debian_tools WHY COMMAND:PACKAGE...: install Debian's packages whose command is missing (as root)
  local why=$1; shift
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "present: $* "
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's ${missing[*]} (apt-get) for $why"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "WARNING: ${missing[*]} missing and not root; install Debian's packages for $why"
  fi
}
debian_tools "the HTML report test (headless screenshot)" chromium:chromium
debian_tools "the benchmark's HTTP load (make bench)" wrk:wrk
debian_tools "the local stack's Prometheus and the rules' tests (promtool)" prometheus:prometheus promtool:prometheus
debian_tools "the local stack's Postgres (the API's Idempotency-Key records)" \
  /usr/lib/postgresql/15/bin/postgres:postgresql-15
# Images and the local cluster (docs/deploy.md, "Facts about this kind of machine"): podman/buildah build,
# mmdebstrap makes the base when no registry answers, containerd and runc run the pods.
debian_tools "make images and the local cluster" podman:podman buildah:buildah mmdebstrap:mmdebstrap \
  runc:runc containerd:containerd ctr:containerd /usr/lib/cni/bridge:containernetworking-plugins \
  iptables:iptables conntrack:conntrack openssl:openssl

if [ -f scripts/setup-k8s-tools.sh ]; then
  bash scripts/setup-k8s-tools.sh
fi
say "done"
