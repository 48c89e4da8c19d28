"""Small readiness probes the start-up waits on: an HTTP(S) endpoint answering 200."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request


def http_ok(url: str, timeout: float = 2.0, cert: tuple[str, str] | None = None) -> bool:
    """True when ``url`` answers 200. Serving certificates are not verified: these are
    loopback health endpoints of processes this tool started, with self-signed certs."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(*cert)
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
