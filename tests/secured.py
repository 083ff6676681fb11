"""What the tests of secured connections need: a throwaway certificate authority with a server
and a client certificate, a second CA nobody trusts, and stunnel in front of the embedded broker
to terminate TLS (Tansu's own TLS does not work in the bundled build) and require a client
certificate, as a secured Kafka cluster does."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from samspil.local.processes import stop_process


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that signed both certificates below
    server_cert: Path  # for 127.0.0.1 and localhost
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting it alone verifies no one


def make_pki(folder: Path) -> Pki:
    """Write a fresh CA, server and client certificates (keys 0600) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    pem = serialization.Encoding.PEM

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def authority(common_name: str) -> tuple[x509.Certificate, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            _builder(name(common_name), name(common_name), key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return certificate, key

    def leaf(
        common_name: str, ca: x509.Certificate, ca_key: Any, purpose: x509.ObjectIdentifier, **san: Any
    ) -> tuple[x509.Certificate, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            _builder(name(common_name), ca.subject, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if san:
            names: list[x509.GeneralName] = [x509.DNSName(dns) for dns in san["dns"]]
            names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in san["ips"]]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    ca, ca_key = authority("Samspil test CA")
    other, _ = authority("Samspil test CA nobody trusts")
    server, server_key = leaf(
        "samspil-test-server",
        ca,
        ca_key,
        ExtendedKeyUsageOID.SERVER_AUTH,
        dns=["localhost"],
        ips=["127.0.0.1"],
    )
    client, client_key = leaf("samspil-test-client", ca, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH)

    def write(file_name: str, data: bytes, mode: int = 0o644) -> Path:
        path = folder / file_name
        path.write_bytes(data)
        path.chmod(mode)
        return path

    def key_bytes(key: Any) -> bytes:
        return bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    return Pki(
        ca=write("ca.pem", ca.public_bytes(pem)),
        server_cert=write("server.pem", server.public_bytes(pem)),
        server_key=write("server-key.pem", key_bytes(server_key), 0o600),
        client_cert=write("client.pem", client.public_bytes(pem)),
        client_key=write("client-key.pem", key_bytes(client_key), 0o600),
        other_ca=write("other-ca.pem", other.public_bytes(pem)),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: Any, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def stunnel_binary() -> str:
    """Debian's stunnel (package ``stunnel4``): missing is a failure under CI, which `make test`
    installs it for, and a skip elsewhere."""
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("stunnel is missing: `make test` installs it (apt-get install stunnel4)")
        pytest.skip("stunnel is not installed (apt-get install stunnel4; `make test` does it)")
    return found


class TlsProxy:
    """stunnel on ``127.0.0.1:port``: TLS with the server certificate outside, plaintext to
    ``target`` inside. With ``client_ca``, only clients with a certificate it signed are let in.
    ``protocol``: stunnel's name for a protocol that opens in plaintext and then asks for TLS
    (``pgsql``: PostgreSQL's SSLRequest)."""

    def __init__(
        self,
        port: int,
        target: str,
        pki: Pki,
        folder: Path,
        *,
        client_ca: Path | None,
        protocol: str | None = None,
    ) -> None:
        self.port = port
        self.target = target
        self.pki = pki
        self.client_ca = client_ca
        self.protocol = protocol
        self.folder = folder
        self.log_file = folder / "stunnel.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "stunnel.conf"
        config.write_text(
            "foreground = yes\n"
            "pid =\n"
            "debug = notice\n"
            f"output = {self.log_file}\n"
            f"[{self.protocol or 'tls'}]\n"
            f"accept = {self.address}\n"
            f"connect = {self.target}\n"
            f"cert = {self.pki.server_cert}\n"
            f"key = {self.pki.server_key}\n"
            + (f"protocol = {self.protocol}\n" if self.protocol else "")
            + (f"CAfile = {self.client_ca}\nrequireCert = yes\nverifyChain = yes\n" if self.client_ca else "")
        )
        self._process = subprocess.Popen(
            [stunnel_binary(), str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"stunnel exited at start: {self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"stunnel did not listen on {self.address} within {timeout} s: {self.log_text()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process, 5.0)

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
