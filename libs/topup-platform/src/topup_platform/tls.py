"""Mutual TLS between the services: credentials from the files the settings name, and the peer's identity.

Every process holds a certificate of the internal CA whose common name is its service name (`orders`,
`billing-adapter`, `gateway`...; cert-manager issues them on Kubernetes, `make run` in dev: see
topup_devstack.certs). A server asks every client for its certificate and refuses one the CA did not sign
(and plaintext); a client checks the server's certificate against the CA and the name it dialled. What a
verified peer may call is the service's access policy (topup_platform.access).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from topup_platform.settings import PlatformSettings


@dataclass(frozen=True)
class TlsMaterial:
    cert_chain: bytes
    private_key: bytes
    ca: bytes

    @classmethod
    def load(cls, cert_file: Path, key_file: Path, ca_file: Path) -> TlsMaterial:
        return cls(cert_file.read_bytes(), key_file.read_bytes(), ca_file.read_bytes())

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> TlsMaterial | None:
        """The files the settings name, read now; None when TLS is off (dev only: refused elsewhere)."""
        settings.require_tls()
        if settings.tls_cert_file is None or settings.tls_key_file is None or settings.tls_ca_file is None:
            return None
        return cls.load(settings.tls_cert_file, settings.tls_key_file, settings.tls_ca_file)

    def server_credentials(self) -> grpc.ServerCredentials:
        """Clients must present a certificate of the CA (mutual TLS)."""
        return grpc.ssl_server_credentials([(self.private_key, self.cert_chain)], root_certificates=self.ca,
                                           require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.private_key,
                                            certificate_chain=self.cert_chain)


def peer_identity(context: grpc.aio.ServicerContext) -> str | None:
    """The verified caller's service name (its certificate's common name), None on a plaintext connection."""
    auth = context.auth_context()
    names = auth.get("x509_common_name") or ()
    if not names:
        return None
    name = names[0]
    return name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
