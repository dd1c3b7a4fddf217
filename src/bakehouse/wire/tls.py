"""Which certificates the client trusts, and which one it shows: one TLS context per configuration.

In order, the first that applies:

1. ``BAKEHOUSE_TRACKING_INSECURE_TLS`` / ``MLFLOW_TRACKING_INSECURE_TLS`` = true: no verification at all
   (a test server with a self-signed certificate; never in production).
2. ``BAKEHOUSE_TRACKING_SERVER_CERT_PATH`` / ``MLFLOW_TRACKING_SERVER_CERT_PATH``: only the CAs in that
   PEM bundle are trusted (MLflow's meaning).
3. ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE`` (PEM bundles) and ``SSL_CERT_DIR`` (a
   hashed directory): the CAs of every one that is set replace the built-in list, as each does for requests,
   curl and OpenSSL (a machine often sets several; all of them are trusted).
4. Otherwise the CA list that ships with the client (certifi's).

``BAKEHOUSE_TRACKING_CLIENT_CERT_PATH`` / ``MLFLOW_TRACKING_CLIENT_CERT_PATH`` names a PEM file holding the
client's certificate and its private key, shown to servers that ask for one (mutual TLS).

Building a context reads the whole CA bundle (~25 ms), so each configuration gets one per process, shared by
every HTTP client and thread.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Sequence

import certifi

from bakehouse.errors import InvalidParameterError
from bakehouse.settings import HttpSettings

logger = logging.getLogger(__name__)


def client_tls(settings: HttpSettings) -> ssl.SSLContext | bool:
    """The TLS context of the HTTP clients (httpx's ``verify=``, the transport's pool), or False when
    verification is turned off."""
    return _context(
        settings.insecure_tls,
        settings.server_cert_path,
        settings.ca_files,
        settings.ca_dir,
        settings.client_cert_path,
    )


@functools.lru_cache(maxsize=8)
def _context(
    insecure: bool,
    server_cert_path: str | None,
    ca_files: tuple[str, ...],
    ca_dir: str | None,
    client_cert_path: str | None,
) -> ssl.SSLContext | bool:
    if insecure:
        logger.warning(
            "TLS certificates of the tracking server are not verified (TRACKING_INSECURE_TLS is set): "
            "anyone on the network path can read and change what is sent, credentials included"
        )
        if not client_cert_path:
            return False
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif server_cert_path:
        context = _trusting("TRACKING_SERVER_CERT_PATH", [server_cert_path])
    elif ca_files or ca_dir:
        context = _trusting(
            "REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE / SSL_CERT_DIR", ca_files, ca_dir
        )
    else:
        context = ssl.create_default_context(cafile=certifi.where())
    if client_cert_path:
        try:
            context.load_cert_chain(client_cert_path)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidParameterError(
                f"TRACKING_CLIENT_CERT_PATH={client_cert_path} must be a readable PEM file with the client "
                f"certificate and its private key: {_reason(exc)}"
            ) from exc
    return context


def _trusting(variable: str, cafiles: Sequence[str], capath: str | None = None) -> ssl.SSLContext:
    """A verifying context that trusts exactly the CAs of these files (and directory)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies and checks host names, trusts nothing yet
    for location in [*cafiles, *([capath] if capath else [])]:
        try:
            if location == capath:
                context.load_verify_locations(capath=location)
            else:
                context.load_verify_locations(cafile=location)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidParameterError(
                f"{variable} names CA certificates that cannot be read ({location}): {_reason(exc)}"
            ) from exc
    return context


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
