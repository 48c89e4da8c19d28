#!/bin/sh
# Trust the extra CA certificates a build passes as the secret `build-ca` (a PEM bundle,
# for example a site's TLS-inspecting proxy) so fetch stages can reach PyPI, Maven
# Central and the Go module proxy through it. Only build stages run this; runtime stages
# copy artifacts, never the certificates. Without the secret it does nothing, which is
# the case on Cloud Build or any CI with direct access.
#   RUN --mount=type=secret,id=build-ca trust-build-ca && <fetch>
set -eu
bundle=/run/secrets/build-ca
[ -s "$bundle" ] || exit 0
dir=/usr/local/share/ca-certificates/build-ca
mkdir -p "$dir"
# update-ca-certificates (and Java's keystore hook) read one certificate per file.
awk -v dir="$dir" '
  /-----BEGIN CERTIFICATE-----/ { n++; out = sprintf("%s/%03d.crt", dir, n); inside = 1 }
  inside { print > out }
  /-----END CERTIFICATE-----/ { inside = 0; close(out) }
' "$bundle"
update-ca-certificates >/dev/null 2>&1
