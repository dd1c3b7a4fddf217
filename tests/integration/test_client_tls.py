"""Bakehouse's client against a server behind TLS with a private CA, as a company deployment has it.

The CA, the server certificate and a client certificate are made here (``cryptography``); Caddy from Debian
terminates TLS in front of a real `bakehouse server`, on one port with server authentication only and on
another requiring a client certificate (mutual TLS). Each client runs in its own process with exactly the
environment a user would set, and the machine's own CA variables removed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from deployment_support import free_port, start_caddy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

#: the machine's CA settings (this image sets all of them): removed so each case sets only what it tests
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")

CLIENT_PROGRAM = """
import sys
from bakehouse.client.client import Client
try:
    names = [e.name for e in Client(sys.argv[1]).search_experiments()]
except Exception as exc:
    print(f"FAILED {type(exc).__name__}: {exc}")
    sys.exit(1)
print("OK", ",".join(names))
"""


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_ca: Path
    client_pem: (
        Path  # the client's certificate and key in one file, as MLFLOW_TRACKING_CLIENT_CERT_PATH wants
    )
    stranger_ca: Path


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, key, issuer, issuer_key, ca: bool, sans=(), client=False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def make_pki(directory: Path) -> Pki:
    from cryptography import x509

    directory.mkdir(parents=True, exist_ok=True)
    ca_key, client_ca_key, stranger_key = _key(), _key(), _key()
    ca = _certificate(_name("Bakehouse Test Root CA"), ca_key, _name("Bakehouse Test Root CA"), ca_key, True)
    client_ca = _certificate(
        _name("Test Client CA"), client_ca_key, _name("Test Client CA"), client_ca_key, True
    )
    stranger = _certificate(
        _name("Someone Else's CA"), stranger_key, _name("Someone Else's CA"), stranger_key, True
    )
    server_key = _key()
    server = _certificate(
        _name("localhost"),
        server_key,
        ca.subject,
        ca_key,
        False,
        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key = _key()
    client = _certificate(
        _name("training-job-7"), client_key, client_ca.subject, client_ca_key, False, client=True
    )
    pki = Pki(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client-ca.pem",
        directory / "client.pem",
        directory / "stranger-ca.pem",
    )
    pki.ca.write_bytes(_pem(ca))
    pki.server_cert.write_bytes(_pem(server))
    pki.server_key.write_bytes(_key_pem(server_key))
    pki.client_ca.write_bytes(_pem(client_ca))
    pki.client_pem.write_bytes(_pem(client) + _key_pem(client_key))
    pki.stranger_ca.write_bytes(_pem(stranger))
    return pki


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory):
    from server_process import start_server

    workdir = tmp_path_factory.mktemp("tls")
    pki = make_pki(workdir / "pki")
    server = start_server(workdir / "server")
    mtls_port = free_port()
    caddyfile = workdir / "Caddyfile"
    caddyfile.write_text(
        f"""{{
	http_port {{$BAKEHOUSE_HTTP_PORT}}
	https_port {{$BAKEHOUSE_HTTPS_PORT}}
	admin {{$BAKEHOUSE_CADDY_ADMIN}}
	skip_install_trust
}}

https://localhost:{{$BAKEHOUSE_HTTPS_PORT}} {{
	tls {pki.server_cert} {pki.server_key}
	reverse_proxy 127.0.0.1:{server.port}
}}

https://localhost:{mtls_port} {{
	tls {pki.server_cert} {pki.server_key} {{
		client_auth {{
			mode require_and_verify
			trusted_ca_cert_file {pki.client_ca}
		}}
	}}
	reverse_proxy 127.0.0.1:{server.port}
}}
"""
    )
    caddy = start_caddy(workdir, caddyfile, {}, ca=pki.ca)
    try:
        yield caddy.url, f"https://localhost:{mtls_port}", pki
    finally:
        caddy.stop()
        server.stop()


def run_client(url: str, **env: str) -> str:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in CA_VARIABLES and not k.startswith(("BAKEHOUSE_", "MLFLOW_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", CLIENT_PROGRAM, url],
        check=False,
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
    )
    return (result.stdout + result.stderr).strip()


def test_a_private_ca_is_refused_until_the_client_is_told_to_trust_it(tls_server) -> None:
    url, _, pki = tls_server
    refused = run_client(url, BAKEHOUSE_HTTP_REQUEST_MAX_RETRIES="0")
    assert refused.startswith("FAILED") and "CERTIFICATE_VERIFY_FAILED" in refused, refused
    assert run_client(url, SSL_CERT_FILE=str(pki.ca)) == "OK Default"
    assert run_client(url, REQUESTS_CA_BUNDLE=str(pki.ca)) == "OK Default"
    assert run_client(url, MLFLOW_TRACKING_SERVER_CERT_PATH=str(pki.ca)) == "OK Default"
    assert run_client(url, BAKEHOUSE_TRACKING_SERVER_CERT_PATH=str(pki.ca)) == "OK Default"
    # a machine-wide bundle next to ours: both are trusted (images set several of these variables)
    assert run_client(url, SSL_CERT_FILE=str(pki.ca), REQUESTS_CA_BUNDLE=str(pki.stranger_ca)) == "OK Default"
    # the server certificate path is the only trust when given, as in MLflow
    wrong = run_client(
        url,
        MLFLOW_TRACKING_SERVER_CERT_PATH=str(pki.stranger_ca),
        SSL_CERT_FILE=str(pki.ca),
        BAKEHOUSE_HTTP_REQUEST_MAX_RETRIES="0",
    )
    assert "CERTIFICATE_VERIFY_FAILED" in wrong, wrong
    insecure = run_client(url, BAKEHOUSE_TRACKING_INSECURE_TLS="true")
    assert insecure.splitlines()[0] == "OK Default" and "are not verified" in insecure, insecure
    missing = run_client(url, MLFLOW_TRACKING_SERVER_CERT_PATH=str(pki.ca) + ".missing")
    assert missing.startswith("FAILED InvalidParameterError") and "TRACKING_SERVER_CERT_PATH" in missing


def test_mutual_tls_with_the_client_certificate_of_mlflow_tracking_client_cert_path(tls_server) -> None:
    _, mtls_url, pki = tls_server
    without = run_client(mtls_url, SSL_CERT_FILE=str(pki.ca), BAKEHOUSE_HTTP_REQUEST_MAX_RETRIES="0")
    assert without.startswith("FAILED"), without
    assert (
        run_client(mtls_url, SSL_CERT_FILE=str(pki.ca), MLFLOW_TRACKING_CLIENT_CERT_PATH=str(pki.client_pem))
        == "OK Default"
    )
    assert (
        run_client(
            mtls_url,
            MLFLOW_TRACKING_SERVER_CERT_PATH=str(pki.ca),
            BAKEHOUSE_TRACKING_CLIENT_CERT_PATH=str(pki.client_pem),
        )
        == "OK Default"
    )
