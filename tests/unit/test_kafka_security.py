"""The Kafka security settings reach every client of a service alike (the admin client, the
outbox's producer, FastStream's producer and consumer), are checked at start-up, and never show
a secret. The clients are built, not started, and their connection settings read back."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from pydantic import ValidationError

from samspil.runtime import kafka
from samspil.runtime.kafka import ensure_topics
from samspil.runtime.kafka_security import KafkaSecurityError, faststream_security, kafka_client_options
from samspil.runtime.service import ServiceRuntime
from samspil.runtime.settings import RuntimeSettings
from schemas.topics import PROVIDER_REPORTS

PASSWORD = "sasl-pw-Xq81zz"
KEY_PASSWORD = "key-pw-Lm55tt"
SHARED_ENV = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CA_FILE",
    "KAFKA_SSL_CERT_FILE",
    "KAFKA_SSL_KEY_FILE",
    "KAFKA_SSL_KEY_PASSWORD",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SHARED_ENV:
        monkeypatch.delenv(name, raising=False)


def _write_pem_files(directory: Path) -> dict[str, Path]:
    """A CA, and a client certificate it signed with an encrypted key."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    files = {
        "ca": directory / "ca.pem",
        "cert": directory / "client.pem",
        "key": directory / "client-key.pem",
    }
    pem = serialization.Encoding.PEM
    files["ca"].write_bytes(certificate("test ca", ca_key, "test ca", ca_key, True).public_bytes(pem))
    files["cert"].write_bytes(certificate("samspil", client_key, "test ca", ca_key, False).public_bytes(pem))
    files["key"].write_bytes(
        client_key.private_bytes(
            pem,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    return files


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _write_pem_files(tmp_path_factory.mktemp("pem"))


def settings(**security: Any) -> RuntimeSettings:
    return RuntimeSettings(
        database_url="postgresql://localhost/none",
        dead_letter_key="k" * 32,
        kafka_bootstrap_servers="broker.example:9093",
        **security,
    )


def combinations(pem: dict[str, Path]) -> dict[str, dict[str, Any]]:
    sasl = {"KAFKA_SASL_USERNAME": "samspil", "KAFKA_SASL_PASSWORD": PASSWORD}
    mutual = {
        "KAFKA_SSL_CA_FILE": pem["ca"],
        "KAFKA_SSL_CERT_FILE": pem["cert"],
        "KAFKA_SSL_KEY_FILE": pem["key"],
        "KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
    }
    return {
        "ssl-system-cas": {"KAFKA_SECURITY_PROTOCOL": "SSL"},
        "ssl-mutual": {"KAFKA_SECURITY_PROTOCOL": "SSL", **mutual},
        "sasl-plaintext-plain": {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "PLAIN",
            **sasl,
        },
        "sasl-ssl-scram-256": {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "KAFKA_SSL_CA_FILE": pem["ca"],
            **sasl,
        },
        "sasl-ssl-scram-512-mutual": {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            **sasl,
            **mutual,
        },
    }


def connection_of(client: Any) -> dict[str, Any]:
    """What an aiokafka client (its AIOKafkaClient) will connect with."""
    return {
        "security_protocol": client._security_protocol,
        "ssl_context": client._ssl_context,
        "sasl_mechanism": client._sasl_mechanism,
        "sasl_plain_username": client._sasl_plain_username,
        "sasl_plain_password": client._sasl_plain_password,
    }


class _AdminBuilt(Exception):
    pass


async def clients_of(runtime: ServiceRuntime, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """The connection settings of each Kafka client the runtime makes, none of them started."""
    admins: list[Any] = []

    class RecordingAdmin(AIOKafkaAdminClient):  # type: ignore[misc]
        async def start(self) -> None:
            admins.append(self)
            raise _AdminBuilt

    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", RecordingAdmin)
    s = runtime.settings
    with pytest.raises(_AdminBuilt):
        await ensure_topics(
            s.kafka_bootstrap_servers, [PROVIDER_REPORTS], client_options=runtime.kafka_options
        )

    broker = runtime.broker()
    faststream_consumer = broker.config.broker_config.builder(group_id="probe")
    faststream_producer = AIOKafkaProducer(**broker._connection_kwargs)
    return {
        "admin": connection_of(admins[0]._client),
        "outbox": connection_of(runtime.sender()._producer.client),
        "faststream-producer": connection_of(faststream_producer.client),
        "faststream-consumer": connection_of(faststream_consumer._client),
    }


def runtime_with(environment: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> ServiceRuntime:
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    return ServiceRuntime(name="probe", settings=settings(), migration_packages=[])


async def test_without_security_settings_every_client_connects_in_plaintext_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = runtime_with({}, monkeypatch)
    assert runtime.kafka_options == {}
    assert faststream_security(runtime.kafka_options) is None
    for client, connection in (await clients_of(runtime, monkeypatch)).items():
        assert connection == {
            "security_protocol": "PLAINTEXT",
            "ssl_context": None,
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": None,
            "sasl_plain_password": None,
        }, client


@pytest.mark.parametrize(
    "combination",
    [
        "ssl-system-cas",
        "ssl-mutual",
        "sasl-plaintext-plain",
        "sasl-ssl-scram-256",
        "sasl-ssl-scram-512-mutual",
    ],
)
async def test_each_security_combination_reaches_every_client_alike(
    combination: str, pem_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = combinations(pem_files)[combination]
    runtime = runtime_with(environment, monkeypatch)
    clients = await clients_of(runtime, monkeypatch)

    outbox = clients["outbox"]
    assert all(connection == outbox for connection in clients.values()), clients
    # FastStream's own translation of its security object gives the very same arguments.
    assert parse_security(faststream_security(runtime.kafka_options)) == runtime.kafka_options

    protocol = environment["KAFKA_SECURITY_PROTOCOL"]
    assert outbox["security_protocol"] == protocol
    if protocol.startswith("SASL_"):
        assert outbox["sasl_mechanism"] == environment["KAFKA_SASL_MECHANISM"]
        assert outbox["sasl_plain_username"] == "samspil"
        assert outbox["sasl_plain_password"] == PASSWORD
    else:
        assert outbox["sasl_plain_username"] is None
    context = outbox["ssl_context"]
    if protocol.endswith("SSL"):
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        if "KAFKA_SSL_CA_FILE" in environment:
            assert "test ca" in common_names(context.get_ca_certs())
    else:
        assert context is None


def test_the_ca_file_is_what_the_tls_context_trusts(pem_files: dict[str, Path]) -> None:
    options = kafka_client_options(settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=pem_files["ca"]))
    assert common_names(options["ssl_context"].get_ca_certs()) == ["test ca"]


def common_names(certificates: Any) -> list[str]:
    return [dict(item[0] for item in cert["subject"])["commonName"] for cert in certificates]


def test_secrets_are_not_in_the_settings_repr(pem_files: dict[str, Path]) -> None:
    configured = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="samspil",
        kafka_sasl_password=PASSWORD,
        kafka_ssl_ca_file=pem_files["ca"],
        kafka_ssl_cert_file=pem_files["cert"],
        kafka_ssl_key_file=pem_files["key"],
        kafka_ssl_key_password=KEY_PASSWORD,
    )
    shown = repr(configured) + str(configured) + repr(configured.model_dump())
    assert PASSWORD not in shown and KEY_PASSWORD not in shown


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": PASSWORD}, "KAFKA_SASL_MECHANISM"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "PLAIN",
                "KAFKA_SASL_PASSWORD": PASSWORD,
            },
            "KAFKA_SASL_USERNAME",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                "KAFKA_SASL_USERNAME": "samspil",
            },
            "KAFKA_SASL_PASSWORD",
        ),
        ({"KAFKA_SASL_USERNAME": "samspil", "KAFKA_SASL_PASSWORD": PASSWORD}, "KAFKA_SASL_PASSWORD is set"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": "{cert}"}, "KAFKA_SSL_KEY_FILE"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEY_FILE": "{key}"}, "KAFKA_SSL_CERT_FILE"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": "/nonexistent/ca.pem"}, "KAFKA_SSL_CA_FILE"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SSL",
                "KAFKA_SSL_CERT_FILE": "{cert}",
                "KAFKA_SSL_KEY_FILE": "/nonexistent/key.pem",
            },
            "KAFKA_SSL_KEY_FILE: no such file",
        ),
        ({"KAFKA_SSL_CA_FILE": "{ca}"}, "KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD},
            "KAFKA_SSL_KEY_PASSWORD",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "GSSAPI",
                "KAFKA_SASL_USERNAME": "samspil",
                "KAFKA_SASL_PASSWORD": PASSWORD,
            },
            "KAFKA_SASL_MECHANISM",
        ),
    ],
)
def test_an_incomplete_or_contradictory_security_setting_is_refused_naming_the_variable(
    environment: dict[str, str], named: str, pem_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value.format(**{k: str(v) for k, v in pem_files.items()}))
    with pytest.raises(ValidationError) as refused:
        settings()
    message = str(refused.value)
    assert named in message
    assert PASSWORD not in message and KEY_PASSWORD not in message


@pytest.mark.parametrize("key_password", [None, "not-the-password"])
def test_a_client_key_that_cannot_be_opened_is_refused_at_start_up_without_the_password(
    key_password: str | None, pem_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cert_file=pem_files["cert"],
        kafka_ssl_key_file=pem_files["key"],
        kafka_ssl_key_password=key_password,
    )
    with pytest.raises(KafkaSecurityError, match="KAFKA_SSL_KEY_PASSWORD") as refused:
        ServiceRuntime(name="probe", settings=configured, migration_packages=[])
    assert "not-the-password" not in str(refused.value)


def test_a_ca_file_that_is_not_pem_is_refused_naming_the_variable(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(KafkaSecurityError, match="KAFKA_SSL_CA_FILE"):
        kafka_client_options(settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=garbage))
