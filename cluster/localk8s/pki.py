"""The cluster's certificates, made with the openssl command line.

One CA signs the API server's serving certificate and a client certificate per
identity (admin, each control-plane component, the node, kube-proxy, CoreDNS), so RBAC
and the Node authorizer see who calls. A second key pair signs service-account tokens.
Everything is made once; the API server certificate is remade when the node address
it names changes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .layout import Layout

DAYS = "3650"

#: Client identities: file stem -> (common name = user, organisation = group).
CLIENTS = {
    "admin": ("stockpulse-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", ""),
    "scheduler": ("system:kube-scheduler", ""),
    "kube-proxy": ("system:kube-proxy", ""),
    "coredns": ("system:coredns", ""),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", "system:masters"),
}


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _subject(cn: str, org: str) -> str:
    return f"/CN={cn}" + (f"/O={org}" if org else "")


def _signed(pki: Path, stem: str, subject: str, extensions: str) -> None:
    key, csr, crt, ext = (pki / f"{stem}.{s}" for s in ("key", "csr", "crt", "ext"))
    _openssl("genrsa", "-out", str(key), "2048")
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    ext.write_text(extensions)
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        DAYS,
        "-sha256",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    csr.unlink()
    ext.unlink()
    key.chmod(0o600)


def ensure(layout: Layout) -> None:
    pki = layout.pki
    pki.mkdir(parents=True, exist_ok=True)
    if not (pki / "ca.crt").exists():
        _openssl("genrsa", "-out", str(pki / "ca.key"), "2048")
        _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            str(pki / "ca.key"),
            "-subj",
            "/CN=stockpulse-local-ca",
            "-days",
            DAYS,
            "-sha256",
            "-out",
            str(pki / "ca.crt"),
        )
    if not (pki / "sa.key").exists():
        _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
        _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    client_ext = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
    for stem, (cn, org) in CLIENTS.items():
        if not (pki / f"{stem}.crt").exists():
            _signed(pki, stem, _subject(cn, org), client_ext)
    node = f"kubelet-{layout.node_name}"
    if not (pki / f"{node}.crt").exists():
        _signed(pki, node, _subject(f"system:node:{layout.node_name}", "system:nodes"), client_ext)
    names = f"{layout.node_ip} {layout.first_service_ip}"
    stamp = pki / "apiserver.names"
    if not (pki / "apiserver.crt").exists() or not stamp.exists() or stamp.read_text() != names:
        sans = ",".join(
            [
                "IP:127.0.0.1",
                f"IP:{layout.node_ip}",
                f"IP:{layout.first_service_ip}",
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                f"DNS:kubernetes.default.svc.{layout.cluster_domain}",
                "DNS:localhost",
            ]
        )
        server_ext = (
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n"
        )
        _signed(pki, "apiserver", "/CN=kube-apiserver", server_ext)
        stamp.write_text(names)


def kubeconfig(layout: Layout, stem: str, path: Path) -> None:
    """A kubeconfig that authenticates as the client certificate ``stem``."""
    pki = layout.pki
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
  - name: stockpulse-local
    cluster:
      certificate-authority: {pki / "ca.crt"}
      server: {layout.apiserver_url}
users:
  - name: {stem}
    user:
      client-certificate: {pki / f"{stem}.crt"}
      client-key: {pki / f"{stem}.key"}
contexts:
  - name: stockpulse-local
    context:
      cluster: stockpulse-local
      user: {stem}
      namespace: stockpulse
current-context: stockpulse-local
"""
    )
    path.chmod(0o600)
