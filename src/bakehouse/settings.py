"""The only reader of environment variables, and the one table of them (:data:`SETTINGS`).

``BAKEHOUSE_*`` variables win; the ``MLFLOW_*`` equivalents are accepted as fallbacks so that scripts and
CI set up for MLflow keep working. Every variable read anywhere is a row of :data:`SETTINGS` (reading one
that is not raises ``KeyError``), and ``docs/settings.md`` is generated from the table
(``python -m bakehouse.cli.reference``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bakehouse.errors import InvalidParameterError

DEFAULT_DB_FILE = "bakehouse.db"
DEFAULT_ARTIFACTS_DIR = "bakehouse-artifacts"


@dataclass(frozen=True)
class Setting:
    """One setting: the variables that give it, in the order they are read, and what it does."""

    key: str  # what the code asks for, e.g. "TRACKING_URI"
    section: str
    description: str
    default: str = ""  # as documented; "" = unset
    #: the variables read, first set (and not empty) wins; default ``BAKEHOUSE_<key>``, ``MLFLOW_<key>``
    names: tuple[str, ...] = ()

    @property
    def variables(self) -> tuple[str, ...]:
        return self.names or (f"BAKEHOUSE_{self.key}", f"MLFLOW_{self.key}")


CLIENT = "Tracking client"
STORAGE = "Storage"
MODELS = "Models and serving"
PROJECTS = "Projects"
SERVER = "Server"
WEBHOOKS = "Registry webhooks"
WORKERS = "Set by Bakehouse for its worker processes"
SECTIONS = (CLIENT, STORAGE, MODELS, PROJECTS, SERVER, WEBHOOKS, WORKERS)

SETTINGS: tuple[Setting, ...] = (
    # ------------------------------------------------------------------------------------------ client
    Setting(
        "TRACKING_URI",
        CLIENT,
        "Where runs are tracked: a database URI (`sqlite:///...`, `postgresql://...`, `mysql://...`), a "
        "`*.db` file, or the URL of a tracking server.",
        f"sqlite:///<working directory>/{DEFAULT_DB_FILE}",
    ),
    Setting(
        "REGISTRY_URI",
        CLIENT,
        "Where registered models live, when not with the tracking data (unset: the tracking URI).",
    ),
    Setting("EXPERIMENT_ID", CLIENT, "The experiment new runs go to (wins over the name)."),
    Setting("EXPERIMENT_NAME", CLIENT, "The experiment new runs go to, by name (created if missing)."),
    Setting(
        "RUN_ID", CLIENT, "A run that `start_run()` resumes instead of creating one (set for project runs)."
    ),
    Setting(
        "TRACKING_USERNAME",
        CLIENT,
        "User name for a server with authentication; also the user recorded on runs.",
    ),
    Setting("TRACKING_PASSWORD", CLIENT, "Password for a server with authentication (HTTP Basic)."),
    Setting("TRACKING_TOKEN", CLIENT, "API token for a server with authentication (sent as a Bearer token)."),
    Setting(
        "TRACKING_INSECURE_TLS",
        CLIENT,
        "`true` skips TLS certificate checks when talking to a server.",
        "false",
    ),
    Setting(
        "TRACKING_SERVER_CERT_PATH",
        CLIENT,
        "A CA bundle (PEM) that alone is trusted for the tracking server's certificate, as in MLflow.",
    ),
    Setting(
        "TRACKING_CLIENT_CERT_PATH",
        CLIENT,
        "A PEM file with the client's certificate and key, for servers that ask for one (mutual TLS).",
    ),
    Setting(
        "REQUESTS_CA_BUNDLE",
        CLIENT,
        "A CA bundle trusted for servers (with the other CA variables that are set) instead of the built-in list.",
        names=("REQUESTS_CA_BUNDLE",),
    ),
    Setting(
        "CURL_CA_BUNDLE",
        CLIENT,
        "A CA bundle trusted for servers, as curl reads it (with the other CA variables that are set).",
        names=("CURL_CA_BUNDLE",),
    ),
    Setting(
        "SSL_CERT_FILE",
        CLIENT,
        "A CA bundle trusted for servers, as OpenSSL reads it (with the other CA variables that are set).",
        names=("SSL_CERT_FILE",),
    ),
    Setting(
        "SSL_CERT_DIR",
        CLIENT,
        "A directory of hashed CA certificates trusted for servers, as OpenSSL reads it.",
        names=("SSL_CERT_DIR",),
    ),
    Setting("HTTP_REQUEST_TIMEOUT", CLIENT, "Seconds to wait for a server's answer to one request.", "120"),
    Setting(
        "HTTP_REQUEST_MAX_RETRIES",
        CLIENT,
        "Retries of a request that got 429/503 or no answer (502/504 and timeouts only for calls safe to "
        "repeat); `0` turns retries off.",
        "7",
    ),
    Setting(
        "HTTP_REQUEST_BACKOFF_FACTOR", CLIENT, "Seconds of the first wait between retries (doubling).", "0.5"
    ),
    Setting(
        "HTTP_RETRY_TIMEOUT",
        CLIENT,
        "Seconds one call may spend retrying before it reports the error (a server never reached is "
        "reported after 1 s).",
        "60",
    ),
    Setting(
        "ASYNC_LOGGING",
        CLIENT,
        "`false` writes every metric point at once instead of buffering and writing them in batches.",
        "true",
    ),
    Setting(
        "ENABLE_SYSTEM_METRICS_LOGGING",
        CLIENT,
        "`true` logs CPU, memory and disk metrics of every run.",
        "false",
    ),
    Setting(
        "SYSTEM_METRICS_SAMPLING_INTERVAL", CLIENT, "Seconds between two samples of system metrics.", "10"
    ),
    Setting("SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", CLIENT, "Samples averaged into one logged point.", "1"),
    Setting(
        "SYSTEM_METRICS_NODE_ID",
        CLIENT,
        "A prefix for system metrics, to tell the machines of one run apart.",
    ),
    Setting(
        "USER",
        CLIENT,
        "Who runs are recorded as, when `BAKEHOUSE_TRACKING_USERNAME` is unset (then the account's name).",
        names=("LOGNAME", "USER", "LNAME", "USERNAME"),
    ),
    # ----------------------------------------------------------------------------------------- storage
    Setting(
        "DEFAULT_ARTIFACT_ROOT",
        STORAGE,
        "Where new experiments keep their artifacts, when the tracking store is a database.",
        f"<working directory>/{DEFAULT_ARTIFACTS_DIR}",
    ),
    Setting(
        "S3_ENDPOINT_URL",
        STORAGE,
        "The S3 endpoint, for S3-compatible stores (MinIO, SeaweedFS, ...).",
        names=(
            "BAKEHOUSE_S3_ENDPOINT_URL",
            "MLFLOW_S3_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL",
        ),
    ),
    Setting("S3_IGNORE_TLS", STORAGE, "`true` skips TLS certificate checks when talking to S3.", "false"),
    Setting(
        "GCS_UPLOAD_CHUNK_SIZE",
        STORAGE,
        "Bytes per request of a resumable upload to Google Cloud Storage (a multiple of 256 KiB). Unset: each "
        "file, or each part of a large one, goes up as one streamed request.",
        names=("BAKEHOUSE_GCS_UPLOAD_CHUNK_SIZE", "MLFLOW_GCS_UPLOAD_CHUNK_SIZE"),
    ),
    Setting(
        "GCS_DOWNLOAD_CHUNK_SIZE",
        STORAGE,
        "Bytes per ranged request when a large Google Cloud Storage object is downloaded in parallel.",
        str(32 * 1024 * 1024),
        names=("BAKEHOUSE_GCS_DOWNLOAD_CHUNK_SIZE", "MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE"),
    ),
    Setting(
        "GCS_PARALLEL_UPLOAD_THRESHOLD",
        STORAGE,
        "Files of at least this many bytes go to Google Cloud Storage as parts uploaded in parallel and composed "
        "into one object (the credentials then also need `storage.objects.delete`, to remove the parts); `0` "
        "uploads every file as one stream.",
        str(150 * 1024 * 1024),
        names=("BAKEHOUSE_GCS_PARALLEL_UPLOAD_THRESHOLD",),
    ),
    Setting(
        "ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT",
        STORAGE,
        "Seconds one request to Google Cloud Storage or Azure Blob Storage may take (`-1`: no limit). Unset: "
        "the client library's default.",
    ),
    Setting(
        "AZURE_STORAGE_CONNECTION_STRING",
        STORAGE,
        "Azure Blob Storage account and credentials in one string (an account key or a SAS token, and the "
        "endpoint: how the Azurite emulator is reached). Read first.",
        names=("AZURE_STORAGE_CONNECTION_STRING",),
    ),
    Setting(
        "AZURE_STORAGE_ACCESS_KEY",
        STORAGE,
        "The key of the storage account named in a `wasbs://` or `abfss://` URI (when there is no connection "
        "string).",
        names=("AZURE_STORAGE_ACCESS_KEY",),
    ),
    Setting(
        "AZURE_STORAGE_SAS_TOKEN",
        STORAGE,
        "A shared access signature for that account (when there is neither a connection string nor a key). "
        "Without any of the three, Azure's default credential chain is used (environment service principal, "
        "workload or managed identity, Azure CLI login).",
        names=("AZURE_STORAGE_SAS_TOKEN",),
    ),
    Setting(
        "SQL_MAX_CONNECTIONS",
        STORAGE,
        "Database connections one server may open across all its workers (PostgreSQL, MySQL): split evenly "
        "between the workers, half kept open and half opened at busy moments.",
        "20",
        names=("BAKEHOUSE_SQL_MAX_CONNECTIONS",),
    ),
    Setting(
        "SQL_POOL_SIZE",
        STORAGE,
        "Connections kept open per process, overriding the process's share of `BAKEHOUSE_SQL_MAX_CONNECTIONS` "
        "(SQLite ignores it).",
        names=("BAKEHOUSE_SQL_POOL_SIZE",),
    ),
    Setting(
        "SQL_MAX_OVERFLOW",
        STORAGE,
        "Connections opened beyond the pool at busy moments, per process, overriding the share of "
        "`BAKEHOUSE_SQL_MAX_CONNECTIONS` (SQLite ignores it).",
        names=("BAKEHOUSE_SQL_MAX_OVERFLOW",),
    ),
    Setting(
        "BACKEND_STORE_URI",
        STORAGE,
        "The server's database URI, instead of `--backend-store-uri` (a password on a command line is visible "
        "to every user through `ps`).",
        names=("BAKEHOUSE_BACKEND_STORE_URI",),
    ),
    Setting(
        "BACKEND_STORE_URI_FILE",
        STORAGE,
        "A file holding the server's database URI (a mounted secret), instead of `--backend-store-uri`.",
        names=("BAKEHOUSE_BACKEND_STORE_URI_FILE",),
    ),
    # ---------------------------------------------------------------------------------- models, serving
    Setting(
        "ALLOW_PICKLE",
        MODELS,
        "`true` lets models stored as pickles (or cloudpickle) load: only for models you trust.",
        "false",
    ),
    Setting(
        "ALLOW_PICKLE_DESERIALIZATION",
        MODELS,
        "The same opt-in, under MLflow's name.",
        "false",
    ),
    Setting(
        "ENV_ROOT",
        MODELS,
        "Where `bakehouse models prepare-env` / `--env-manager` keep a model's virtualenv.",
        "~/.cache/bakehouse/envs",
    ),
    # ---------------------------------------------------------------------------------------- projects
    Setting(
        "ENV_CACHE_DIR",
        PROJECTS,
        "Where `bakehouse run` keeps the environments it builds, one per environment-spec hash "
        "(`$XDG_CACHE_HOME/bakehouse/envs` when that variable is set).",
        "~/.cache/bakehouse/envs",
    ),
    Setting(
        "XDG_CACHE_HOME",
        PROJECTS,
        "The cache directory that `bakehouse run` keeps its environments under, when `BAKEHOUSE_ENV_CACHE_DIR` is unset.",
        names=("XDG_CACHE_HOME",),
    ),
    Setting(
        "PYENV_ROOT",
        PROJECTS,
        "Where pyenv keeps interpreters: `bakehouse run` picks a project's Python from there.",
        "~/.pyenv",
        names=("PYENV_ROOT",),
    ),
    Setting(
        "KUBE_TRACKING_URI",
        PROJECTS,
        "The tracking URI given to Kubernetes Jobs, when the cluster reaches the server at another address "
        "(unset: the tracking URI).",
        names=("BAKEHOUSE_KUBE_TRACKING_URI", "KUBE_MLFLOW_TRACKING_URI"),
    ),
    Setting(
        "KERAS_BACKEND",
        MODELS,
        "Keras' own backend choice (`torch`, `jax`, `tensorflow`). Unset, and not named in keras.json, the Keras "
        "flavor picks an installed backend and sets it for the process.",
        names=("KERAS_BACKEND",),
    ),
    Setting(
        "KERAS_HOME",
        MODELS,
        "Where Keras keeps keras.json; the Keras flavor reads the configured backend from it.",
        "~/.keras",
        names=("KERAS_HOME",),
    ),
    # ------------------------------------------------------------------------------------------ server
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        SERVER,
        "prometheus_client's directory of per-process metric files. Unset, a server with several workers makes "
        "one for its run (and removes it); set, it is used and left in place.",
        names=("PROMETHEUS_MULTIPROC_DIR",),
    ),
    Setting(
        "SECRET_KEY",
        SERVER,
        "The key that signs browser sessions (at least 16 bytes); every server process behind one URL must share "
        "it. Unset: a random key per process, so browser sessions need a single worker.",
        names=("BAKEHOUSE_SECRET_KEY", "MLFLOW_FLASK_SERVER_SECRET_KEY"),
    ),
    Setting(
        "ADMIN_USERNAME",
        SERVER,
        "The administrator created when a server with `--auth` starts on an empty user table.",
        "admin",
        names=("BAKEHOUSE_ADMIN_USERNAME",),
    ),
    Setting(
        "ADMIN_PASSWORD",
        SERVER,
        "That administrator's password (required then: there is no default password).",
        names=("BAKEHOUSE_ADMIN_PASSWORD", "MLFLOW_AUTH_ADMIN_PASSWORD"),
    ),
    # ---------------------------------------------------------------------------------------- webhooks
    Setting(
        "WEBHOOK_ALLOWED_SCHEMES",
        WEBHOOKS,
        "Comma-separated URL schemes a registry webhook may use (as in MLflow, only https unless widened).",
        "https",
    ),
    Setting(
        "WEBHOOK_ALLOW_PRIVATE_IPS",
        WEBHOOKS,
        "`true` lets a webhook target loopback, private, link-local or reserved addresses.",
        "false",
    ),
    Setting("WEBHOOK_REQUEST_TIMEOUT", WEBHOOKS, "Seconds one webhook delivery attempt may take.", "30"),
    Setting(
        "WEBHOOK_REQUEST_MAX_RETRIES",
        WEBHOOKS,
        "Retries of a webhook delivery after the first attempt failed (network error, 429 or 5xx).",
        "3",
    ),
    Setting(
        "WEBHOOK_RETRY_BACKOFF",
        WEBHOOKS,
        "Seconds before the first retry of a webhook delivery; each further retry waits twice as long "
        "(at most a minute).",
        "1",
    ),
    Setting(
        "WEBHOOK_DELIVERY_MAX_WORKERS", WEBHOOKS, "Webhook deliveries one server process sends at once.", "10"
    ),
    Setting(
        "WEBHOOK_SECRET_ENCRYPTION_KEY",
        WEBHOOKS,
        "A Fernet key that encrypts webhook secrets in the database; every server of a deployment must "
        "share it (unset: a key file, below).",
    ),
    Setting(
        "WEBHOOK_SECRET_KEY_FILE",
        WEBHOOKS,
        "The key file used when no encryption key is set: created once, readable by its owner only.",
        "`$XDG_DATA_HOME/bakehouse/webhook-secret.key` (`~/.local/share/...` when unset)",
    ),
    Setting(
        "XDG_DATA_HOME",
        WEBHOOKS,
        "Where the default webhook key file goes (`$XDG_DATA_HOME/bakehouse/`).",
        "~/.local/share",
        names=("XDG_DATA_HOME",),
    ),
    # ------------------------------------------------------------------------------- worker processes
    Setting("SERVING_MODEL_URI", WORKERS, "The model a scoring-server worker loads."),
    Setting(
        "SERVING_ALLOW_PICKLE",
        WORKERS,
        "`true` when `models serve` was given `--allow-pickle`.",
        "false",
    ),
    Setting(
        "SERVING_SAMPLE_RATE",
        WORKERS,
        "Share of scoring requests whose inputs are sampled (`models serve --sample-inputs --sample-rate`); "
        "unset: no sampling.",
    ),
    Setting(
        "SERVING_SAMPLE_MAX_ROWS",
        WORKERS,
        "Most input rows one scoring worker keeps before it writes them out (`--sample-max-rows`).",
        "10000",
    ),
    Setting(
        "SERVING_SAMPLE_FLUSH_INTERVAL",
        WORKERS,
        "Seconds between two writes of sampled inputs to the tracking store (`--sample-flush-interval`).",
        "60",
    ),
    Setting(
        "SERVING_SAMPLE_EXPERIMENT",
        WORKERS,
        "The experiment that receives sampled inputs as datasets.",
        "bakehouse-serving-samples",
    ),
    Setting(
        "SERVING_WATCH_INTERVAL",
        WORKERS,
        "Seconds between two checks of a watched alias (`models serve --watch`).",
        "10",
    ),
    Setting(
        "SCORING_SERVER_REQUEST_TIMEOUT",
        WORKERS,
        "Seconds a scoring request may take (`models serve --timeout`).",
        "60",
    ),
    Setting(
        "SCORING_SERVER_MAX_BODY_BYTES",
        WORKERS,
        "Largest request body a scoring server accepts (`models serve --max-body-bytes`).",
        str(100 * 1024 * 1024),
    ),
)

_BY_KEY = {setting.key: setting for setting in SETTINGS}


def env(key: str, default: str | None = None) -> str | None:
    """The first of the setting's variables that is set (empty strings count as unset), else ``default``."""
    for name in _BY_KEY[key].variables:
        value = os.environ.get(name)
        if value:
            return value
    return default


def env_flag(key: str, default: bool = False) -> bool:
    value = env(key)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_float(key: str, default: float) -> float:
    value = env(key)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        return default


def _env_int(key: str) -> int:
    """An integer setting, its default from the table; a value that is not an integer is refused."""
    setting = _BY_KEY[key]
    value = env(key, setting.default)
    try:
        return int(str(value))
    except ValueError:
        raise InvalidParameterError(f"{setting.variables[0]} must be an integer, got {value!r}") from None


def default_tracking_uri() -> str:
    """The embedded default: SQLite in the working directory."""
    return "sqlite:///" + str(Path.cwd() / DEFAULT_DB_FILE)


def default_artifact_root() -> str:
    return str(Path.cwd() / DEFAULT_ARTIFACTS_DIR)


def tracking_uri_from_env() -> str | None:
    return env("TRACKING_URI")


def registry_uri_from_env() -> str | None:
    return env("REGISTRY_URI")


def artifact_root_from_env() -> str | None:
    return env("DEFAULT_ARTIFACT_ROOT")


def experiment_id_from_env() -> str | None:
    return env("EXPERIMENT_ID")


def experiment_name_from_env() -> str | None:
    return env("EXPERIMENT_NAME")


def run_id_from_env() -> str | None:
    return env("RUN_ID")


def username_from_env() -> str | None:
    return env("TRACKING_USERNAME")


#: the variables naming CA bundles that requests, curl and OpenSSL honour; the client trusts all that are set
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@dataclass(frozen=True)
class HttpSettings:
    """How the REST client talks to a server."""

    username: str | None
    password: str | None
    token: str | None
    insecure_tls: bool
    timeout: float
    max_retries: int
    backoff_factor: float
    #: seconds one call may spend retrying (see bakehouse.wire.retry)
    retry_timeout: float = 60.0
    #: the CA bundle that alone is trusted for the server (``*_TRACKING_SERVER_CERT_PATH``, as in MLflow)
    server_cert_path: str | None = None
    #: a PEM file with the client's certificate and key, for servers that ask for one (mutual TLS)
    client_cert_path: str | None = None
    #: CA bundles trusted instead of the built-in list (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE)
    ca_files: tuple[str, ...] = ()
    #: a directory of hashed CA certificates (SSL_CERT_DIR)
    ca_dir: str | None = None

    @classmethod
    def from_env(cls) -> HttpSettings:
        return cls(
            username=env("TRACKING_USERNAME"),
            password=env("TRACKING_PASSWORD"),
            token=env("TRACKING_TOKEN"),
            insecure_tls=env_flag("TRACKING_INSECURE_TLS"),
            timeout=env_float("HTTP_REQUEST_TIMEOUT", 120.0),
            max_retries=int(env_float("HTTP_REQUEST_MAX_RETRIES", 7)),
            backoff_factor=env_float("HTTP_REQUEST_BACKOFF_FACTOR", 0.5),
            retry_timeout=env_float("HTTP_RETRY_TIMEOUT", 60.0),
            server_cert_path=env("TRACKING_SERVER_CERT_PATH"),
            client_cert_path=env("TRACKING_CLIENT_CERT_PATH"),
            ca_files=tuple(
                dict.fromkeys(  # each file once, in this order
                    path for path in (env(name) for name in CA_BUNDLE_VARIABLES) if path
                )
            ),
            ca_dir=env("SSL_CERT_DIR"),
        )


def s3_endpoint_url() -> str | None:
    return env("S3_ENDPOINT_URL")


def s3_ignore_tls() -> bool:
    return env_flag("S3_IGNORE_TLS")


def gcs_upload_chunk_size() -> int | None:
    """Bytes per request of a resumable GCS upload, or None for one streamed request."""
    return _env_int("GCS_UPLOAD_CHUNK_SIZE") if env("GCS_UPLOAD_CHUNK_SIZE") else None


def gcs_download_chunk_size() -> int:
    return _env_int("GCS_DOWNLOAD_CHUNK_SIZE")


def gcs_parallel_upload_threshold() -> int:
    return _env_int("GCS_PARALLEL_UPLOAD_THRESHOLD")


def artifact_transfer_timeout() -> float | None:
    """Seconds per request to a cloud object store; None = the client library's default, -1 = no limit."""
    value = env("ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidParameterError(
            "BAKEHOUSE_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT (or MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT) must be a "
            f"number of seconds, got {value!r}"
        ) from None


@dataclass(frozen=True)
class AzureCredentialSettings:
    """The Azure storage credentials given through the environment, in the order MLflow reads them."""

    connection_string: str | None
    access_key: str | None
    sas_token: str | None

    @classmethod
    def from_env(cls) -> AzureCredentialSettings:
        return cls(
            connection_string=env("AZURE_STORAGE_CONNECTION_STRING"),
            access_key=env("AZURE_STORAGE_ACCESS_KEY"),
            sas_token=env("AZURE_STORAGE_SAS_TOKEN"),
        )


def async_logging_enabled() -> bool:
    """Metric points are buffered and written in batches unless this is turned off."""
    return env_flag("ASYNC_LOGGING", True)


def admin_credentials() -> tuple[str, str | None]:
    return env("ADMIN_USERNAME") or "admin", env("ADMIN_PASSWORD")


def current_user() -> str:
    """The user recorded on runs (``mlflow.user``), as MLflow determines it."""
    explicit = env("TRACKING_USERNAME")
    if explicit:
        return explicit
    from_system = env("USER")
    if from_system:
        return from_system
    try:
        import pwd  # POSIX only

        return pwd.getpwuid(os.getuid()).pw_name
    except Exception:  # noqa: BLE001 - any failure means "unknown user"
        return "unknown"


def project_env_cache_dir() -> Path:
    """Where ``bakehouse run`` keeps the virtualenvs / conda envs it builds, one per environment-spec hash."""
    configured = env("ENV_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = env("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "bakehouse" / "envs"


def pyenv_root() -> Path:
    """Where pyenv keeps interpreters; ``bakehouse run`` picks a project's requested Python from here."""
    return Path(env("PYENV_ROOT") or Path.home() / ".pyenv").expanduser()


def kube_tracking_uri() -> str | None:
    """The tracking URI given to Kubernetes Jobs when the cluster reaches the server at another address."""
    return env("KUBE_TRACKING_URI")


def backend_store_uri_from_env() -> tuple[str | None, str | None]:
    """``(BAKEHOUSE_BACKEND_STORE_URI, BAKEHOUSE_BACKEND_STORE_URI_FILE)``: the server's database URI, or a file
    holding it, so that a password never sits on a command line (where ``ps`` shows it to every user)."""
    return env("BACKEND_STORE_URI"), env("BACKEND_STORE_URI_FILE")


#: database connections one server may open across all its workers, unless BAKEHOUSE_SQL_MAX_CONNECTIONS says
DEFAULT_SQL_MAX_CONNECTIONS = 20


def _optional_int(key: str) -> int | None:
    """An integer setting that may be unset; a value that is not an integer is refused."""
    return None if env(key) is None else _env_int(key)


def sql_max_connections() -> int:
    """The connection budget of one server process tree (split between its workers)."""
    return _optional_int("SQL_MAX_CONNECTIONS") or DEFAULT_SQL_MAX_CONNECTIONS


def sql_pool_size() -> int | None:
    """Per-process pool size when set explicitly (overrides the share of the budget)."""
    return _optional_int("SQL_POOL_SIZE")


def sql_max_overflow() -> int | None:
    """Per-process overflow when set explicitly (overrides the share of the budget)."""
    return _optional_int("SQL_MAX_OVERFLOW")


def session_secret_key() -> str | None:
    """The key that signs browser sessions; every server process behind one URL must share it."""
    return env("SECRET_KEY")


def prometheus_multiproc_dir() -> str | None:
    """Where the workers of one server keep their metric files (prometheus_client's own variable)."""
    return env("PROMETHEUS_MULTIPROC_DIR")


# ------------------------------------------------------------------------------------------ webhooks
# MLflow's names (MLFLOW_WEBHOOK_*) work, and so do BAKEHOUSE_WEBHOOK_*; see docs/registry.md#webhooks.


def webhook_allowed_schemes() -> tuple[str, ...]:
    """URL schemes a webhook may use; only https unless widened, as in MLflow."""
    value = env("WEBHOOK_ALLOWED_SCHEMES")
    if not value:
        return ("https",)
    return tuple(s.strip().lower() for s in value.split(",") if s.strip())


def webhook_allow_private_ips() -> bool:
    """Whether a webhook may target loopback, private, link-local or reserved addresses (off by default)."""
    return env_flag("WEBHOOK_ALLOW_PRIVATE_IPS")


def webhook_request_timeout() -> float:
    return env_float("WEBHOOK_REQUEST_TIMEOUT", 30.0)


def webhook_max_retries() -> int:
    """Retries after the first attempt (MLflow's MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES, default 3)."""
    return max(0, int(env_float("WEBHOOK_REQUEST_MAX_RETRIES", 3)))


def webhook_retry_backoff() -> float:
    """Seconds before the first retry; each further retry waits twice as long (capped at a minute)."""
    return max(0.0, env_float("WEBHOOK_RETRY_BACKOFF", 1.0))


def webhook_delivery_workers() -> int:
    return max(1, int(env_float("WEBHOOK_DELIVERY_MAX_WORKERS", 10)))


def webhook_secret_encryption_key() -> str | None:
    """A Fernet key shared by every server of a deployment (MLflow's MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY)."""
    return env("WEBHOOK_SECRET_ENCRYPTION_KEY")


def webhook_secret_key_file() -> Path:
    """Where the key lives when none is configured: created once, readable by this user only."""
    configured = env("WEBHOOK_SECRET_KEY_FILE")
    if configured:
        return Path(configured).expanduser()
    xdg = env("XDG_DATA_HOME")
    return (
        (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share")
        / "bakehouse"
        / "webhook-secret.key"
    )
