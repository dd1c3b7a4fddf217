"""The only reader of environment variables.

``BAKEHOUSE_*`` variables win; the ``MLFLOW_*`` equivalents are accepted as fallbacks so that scripts and
CI set up for MLflow keep working.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB_FILE = "bakehouse.db"
DEFAULT_ARTIFACTS_DIR = "bakehouse-artifacts"


def env(name: str, default: str | None = None) -> str | None:
    """``BAKEHOUSE_<name>``, else ``MLFLOW_<name>``, else ``default``. Empty strings count as unset."""
    for prefix in ("BAKEHOUSE_", "MLFLOW_"):
        value = os.environ.get(prefix + name)
        if value:
            return value
    return default


def env_flag(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_float(name: str, default: float) -> float:
    value = env(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        return default


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
        )


def s3_endpoint_url() -> str | None:
    return (
        env("S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )


def s3_ignore_tls() -> bool:
    return env_flag("S3_IGNORE_TLS")


def async_logging_enabled() -> bool:
    """Metric points are buffered and written in batches unless this is turned off."""
    return env_flag("ASYNC_LOGGING", True)


def admin_credentials() -> tuple[str, str | None]:
    username = os.environ.get("BAKEHOUSE_ADMIN_USERNAME") or "admin"
    password = os.environ.get("BAKEHOUSE_ADMIN_PASSWORD") or os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD")
    return username, password


def current_user() -> str:
    """The user recorded on runs (``mlflow.user``), as MLflow determines it."""
    explicit = env("TRACKING_USERNAME")
    if explicit:
        return explicit
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        value = os.environ.get(name)
        if value:
            return value
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
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "bakehouse" / "envs"


def pyenv_root() -> Path:
    """Where pyenv keeps interpreters; ``bakehouse run`` picks a project's requested Python from here."""
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv").expanduser()


def kube_tracking_uri() -> str | None:
    """The tracking URI given to Kubernetes Jobs when the cluster reaches the server at another address."""
    return os.environ.get("BAKEHOUSE_KUBE_TRACKING_URI") or os.environ.get("KUBE_MLFLOW_TRACKING_URI") or None


def session_secret_key() -> str | None:
    """The key that signs browser sessions; every server process behind one URL must share it."""
    return os.environ.get("BAKEHOUSE_SECRET_KEY") or os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY")


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
    xdg = os.environ.get("XDG_DATA_HOME")
    return (
        (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share")
        / "bakehouse"
        / "webhook-secret.key"
    )
