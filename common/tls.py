"""The client half of TLS: the error of a TLS setup that cannot work, and a terminal's channel
credentials.  The station CA and the server's certificates are keyun.gateway.tls."""

from __future__ import annotations

from pathlib import Path

import grpc


class TlsError(Exception):
    """A TLS setup that cannot work: files missing or present, a bad host or device name.

    Messages name paths and hosts, never key material."""


def channel_credentials(
    ca_file: Path | str, cert_file: Path | str | None = None, key_file: Path | str | None = None
) -> grpc.ChannelCredentials:
    """Trust the station CA in `ca_file`; present the device certificate and key if given."""
    if (cert_file is None) != (key_file is None):
        raise TlsError("a client certificate needs its key, and a key its certificate: give both or neither")
    try:
        root = Path(ca_file).read_bytes()
        cert = Path(cert_file).read_bytes() if cert_file is not None else None
        key = Path(key_file).read_bytes() if key_file is not None else None
    except OSError as error:
        raise TlsError(f"{error.filename}: {error.strerror}") from None
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=cert)
