"""Certificates made on the fly with ``cryptography``: a CA and certificates it signs (the
``phoneagent demo``'s SIPS and the tests).

Usage::

    files = make_tls_files(tmp_path)            # CA + server cert for localhost, 127.0.0.1, ::1
    client = make_client_tls_context(str(files.ca_certificate))
    server = make_server_tls_context(str(files.server_certificate), str(files.server_key))

Or, for more than one certificate (another host name, a second CA that nobody
trusts, a client certificate)::

    ca = CertificateAuthority(tmp_path / "ca", "phoneagent test CA")
    certificate, key = ca.issue(tmp_path / "proxy", dns_names=["proxy.example.com"])

The certificates pass the strict X.509 checks Python 3.13 turns on by default
(``VERIFY_X509_STRICT``): basic constraints and key usage are critical, and
subject and authority key identifiers are present.  Keys are ECDSA P-256, which
is fast to generate; files are PEM.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=30)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write_certificate(path: Path, certificate: x509.Certificate) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


class CertificateAuthority:
    """A self-signed CA written to ``directory/ca.pem`` (its key stays in memory)."""

    def __init__(self, directory: Path, common_name: str = "phoneagent test CA") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name(common_name)
        public_key = self._key.public_key()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.certificate_path = directory / "ca.pem"
        _write_certificate(self.certificate_path, self.certificate)

    def issue(
        self,
        directory: Path,
        common_name: str = "localhost",
        *,
        dns_names: Sequence[str] = ("localhost",),
        ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
        client: bool = False,
    ) -> tuple[Path, Path]:
        """Sign a server (or, with ``client``, a client) certificate.

        Returns the paths of ``directory/cert.pem`` and ``directory/key.pem``.
        """
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        certificate_path = directory / "cert.pem"
        key_path = directory / "key.pem"
        _write_certificate(certificate_path, certificate)
        _write_key(key_path, key)
        return certificate_path, key_path


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a test CA and of a server certificate it signed."""

    ca_certificate: Path
    server_certificate: Path
    server_key: Path


def make_tls_files(
    directory: Path,
    *,
    dns_names: Sequence[str] = ("localhost",),
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
) -> TlsFiles:
    """A fresh CA and a server certificate for ``localhost``, 127.0.0.1 and ::1 in ``directory``."""
    authority = CertificateAuthority(directory / "ca")
    certificate, key = authority.issue(
        directory / "server", dns_names=dns_names, ip_addresses=ip_addresses
    )
    return TlsFiles(authority.certificate_path, certificate, key)
