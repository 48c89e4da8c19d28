"""Is the Hive metastore answering? One thrift call, as the ingest's metrics report it.

The ingest cannot commit a batch without the metastore, so the driver probes it each time
Prometheus scrapes the driver (``stockpulse_metastore_reachable``): the same check locally
and in a cluster, from where it matters, with no exporter inside the metastore's image.

The probe sends ``get_all_databases`` in thrift's strict binary protocol over a plain
socket (what the metastore serves unless SASL or framing is configured) and reads the
reply's header: a listening port alone would not prove the service answers, and the
Spark image carries no thrift library.
"""

from __future__ import annotations

import socket
import struct
from urllib.parse import urlsplit

VERSION_1 = 0x80010000
CALL, REPLY = 1, 2
METHOD = b"get_all_databases"


def metastore_addresses(uris: str) -> list[tuple[str, int]]:
    """``thrift://host:port[,thrift://...]`` (Hive's ``hive.metastore.uris`` form) as (host, port) pairs."""
    addresses = []
    for uri in uris.split(","):
        parts = urlsplit(uri.strip())
        if parts.scheme == "thrift" and parts.hostname:
            addresses.append((parts.hostname, parts.port or 9083))
    return addresses


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the metastore closed the connection")
        data += chunk
    return data


def call_answered(host: str, port: int, timeout: float) -> bool:
    """True when the service at host:port answers ``get_all_databases`` with a thrift reply."""
    request = struct.pack("!Ii", VERSION_1 | CALL, len(METHOD)) + METHOD + struct.pack("!i", 1) + b"\x00"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(request)
            version, name_length = struct.unpack("!Ii", _read_exact(sock, 8))
            if version & 0xFFFF0000 != VERSION_1 or version & 0xFF != REPLY or name_length != len(METHOD):
                return False
            return _read_exact(sock, name_length) == METHOD
    except (OSError, struct.error):
        return False


def metastore_answers(uris: str, timeout: float = 2.0) -> bool:
    """True when any of the metastore URIs answers (clients fail over between them too)."""
    return any(call_answered(host, port, timeout) for host, port in metastore_addresses(uris))
