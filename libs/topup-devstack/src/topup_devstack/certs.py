"""A development certificate authority for the services' mutual TLS (what cert-manager does on Kubernetes).

`make run` and the test stacks call `DevPki.create(directory)` at start-up: one CA, and one certificate per
identity (each service, plus `ops` for operators' tools and tests), each naming the identity as its common
name and as a DNS name, with `localhost` and `127.0.0.1` (everything listens on loopback in dev). The keys
are ECDSA P-256 (what the Kubernetes `Certificate`s ask for too), written readable by their owner only.

    <dir>/ca.pem                 the CA every process trusts (TOPUP_TLS_CA_FILE)
    <dir>/<name>.pem, -key.pem   a process's certificate and key (TOPUP_TLS_CERT_FILE, TOPUP_TLS_KEY_FILE)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: every identity the dev stack issues a certificate to: the gRPC services and the gateway (a client only),
#: and `ops` (operators' tools, the tests and the benchmarks calling a service directly)
IDENTITIES = ("gateway", "risk", "orders", "billing-adapter", "refunds", "ops")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def issue_ca(common_name: str = "topup dev CA", days: int = 30) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, identity: str,
          days: int = 30) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A leaf for `identity`: CN and DNS name = the identity, plus localhost and 127.0.0.1; server and client."""
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(identity), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@dataclass(frozen=True)
class DevPki:
    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    def cert_file(self, identity: str) -> Path:
        return self.directory / f"{identity}.pem"

    def key_file(self, identity: str) -> Path:
        return self.directory / f"{identity}-key.pem"

    def env(self, identity: str) -> dict[str, str]:
        """The settings that give a process this identity (topup_platform.settings.PlatformSettings)."""
        return {"TOPUP_TLS_CERT_FILE": str(self.cert_file(identity)),
                "TOPUP_TLS_KEY_FILE": str(self.key_file(identity)),
                "TOPUP_TLS_CA_FILE": str(self.ca_file)}

    def read(self, identity: str) -> tuple[bytes, bytes, bytes]:
        """(certificate, key, CA) PEM of an identity, for a client built in a test."""
        return self.cert_file(identity).read_bytes(), self.key_file(identity).read_bytes(), self.ca_file.read_bytes()

    @classmethod
    def create(cls, directory: Path, identities: Iterable[str] = IDENTITIES) -> DevPki:
        """A new CA and a certificate per identity in `directory` (replacing what was there)."""
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        pki = cls(directory)
        ca_key, ca_cert = issue_ca()  # its key signs the leaves below and is never written anywhere
        _write(pki.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))
        for identity in identities:
            key, cert = issue(ca_key, ca_cert, identity)
            _write(pki.key_file(identity), _pem_key(key), private=True)
            _write(pki.cert_file(identity), cert.public_bytes(serialization.Encoding.PEM))
        return pki


def main(argv: list[str] | None = None) -> int:
    """`python -m topup_devstack.certs DIR [IDENTITY...]`: the compose init service (and anyone) uses this. The
module needs only `cryptography`, so compose runs it as a plain file in a service image."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m topup_devstack.certs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("identities", nargs="*", default=list(IDENTITIES))
    parser.add_argument("--if-missing", action="store_true", help="keep the CA and certificates already there")
    parser.add_argument("--owner", default=None, metavar="UID:GID", help="give the files to this user (compose)")
    args = parser.parse_args(argv)
    if not (args.if_missing and DevPki(args.directory).ca_file.exists()):
        DevPki.create(args.directory, args.identities)
    if args.owner:
        uid, gid = (int(part) for part in args.owner.split(":"))
        for path in [args.directory, *args.directory.iterdir()]:
            os.chown(path, uid, gid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
