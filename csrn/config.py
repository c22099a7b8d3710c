"""Configuration read from the environment: one class per CSRN_ENV."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

# Not secrets: fixed keys so development and test need no set-up. Production refuses them.
DEVELOPMENT_SECRET_KEY = "csrn-development-secret-key-not-for-production-use"  # noqa: S105 - refused in production
DEVELOPMENT_ENCRYPTION_KEY = "Y3Nybi1kZXZlbG9wbWVudC1rZXktbm90LWZvci1wcm8="

PRODUCTION_REQUIRED = ("SECRET_KEY", "CSRN_ENCRYPTION_KEY", "CSRN_BASE_URL", "TRUSTED_HOSTS")
# Flask-Limiter's per-process store: with several workers each keeps its own counts (SECURITY A4).
PER_PROCESS_LIMIT_STORE = "memory://"
DEFAULT_PORT = 5000
BENCH_SETTING_REFUSED = (
    "BENCH_UNLIMITED_USERS is for the load harness only (it lets the listed users past every rate limit): "
    "production refuses it."
)

log = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """The environment does not allow the app to start safely."""


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def local_port() -> int:
    """The port the development server listens on: PORT from the environment (as `make run` sets it), else 5000."""
    value = (os.environ.get("PORT") or "").strip() or str(DEFAULT_PORT)
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 65535:
        raise ConfigurationError(f"PORT must be a TCP port number (1–65535), not {value!r}.")
    return int(value)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the usual short forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Settings shared by every environment, read from the environment at app creation."""

    CSRN_ENV = "development"

    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY = env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
        self.SECRET_KEY_FALLBACKS = _list("SECRET_KEY_FALLBACKS")
        self.CSRN_ENCRYPTION_KEY = env.get("CSRN_ENCRYPTION_KEY") or DEVELOPMENT_ENCRYPTION_KEY
        # Unset, links point where `make run` serves: 127.0.0.1 on PORT (5000 unless `make run PORT=…`).
        self.CSRN_BASE_URL = (env.get("CSRN_BASE_URL") or f"http://127.0.0.1:{local_port()}").rstrip("/")
        self.TRUSTED_HOSTS = _list("TRUSTED_HOSTS") or ["127.0.0.1", "localhost"]
        self.CSRN_PROXY_HOPS = int(env.get("CSRN_PROXY_HOPS", "0") or 0)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'csrn.sqlite3'}"
        )
        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI") or PER_PROCESS_LIMIT_STORE
        # Requests per HSDS API token (or per address without one), over all the API's paths.
        self.HSDS_API_RATE_LIMIT = env.get("HSDS_API_RATE_LIMIT") or "120 per minute"
        # Says that one process serves every request, so the per-process limit store sees every attempt.
        self.CSRN_SINGLE_PROCESS = _flag("CSRN_SINGLE_PROCESS", False)
        self.CSRN_REQUIRE_2FA = _flag("CSRN_REQUIRE_2FA", self.CSRN_ENV == "production")
        # Public forms refuse posts sent sooner than this after the page was served (bots fill at once).
        self.CSRN_FORM_MIN_SECONDS = float(env.get("CSRN_FORM_MIN_SECONDS")
                                           or (3 if self.CSRN_ENV == "production" else 0))
        # Benchmark only (bench/load.py): these users' requests pass every rate limit; production refuses it.
        self.BENCH_UNLIMITED_USERS = [email.lower() for email in _list("BENCH_UNLIMITED_USERS")]
        self.MAIL_SERVER = env.get("MAIL_SERVER", "")
        # Where uploaded volunteer documents live (one folder shared by every host); unset: instance/uploads.
        self.UPLOAD_FOLDER = env.get("UPLOAD_FOLDER", "")
        self.MAIL_PORT = int(env.get("MAIL_PORT", "25") or 25)
        self.MAIL_USERNAME = env.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD", "")
        self.MAIL_USE_TLS = _flag("MAIL_USE_TLS", False)
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_DEFAULT_SENDER", "csrn@localhost")

    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "csrn_session"
    REMEMBER_COOKIE_DURATION = 0
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 1024 * 1024
    # The largest HSDS package the import reads, and the most a .zip may unpack to (the upload page is also
    # bounded by MAX_CONTENT_LENGTH).
    HSDS_IMPORT_MAX_BYTES = 50 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session, which times out itself
    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_STRATEGY = "fixed-window"
    HSTS = False
    # argon2-cffi defaults (RFC 9106 low-memory profile)
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    ARGON2_PARALLELISM = 4
    PER_PAGE = 25

    def validate(self) -> None:
        """Refuse settings that are unsafe for this environment."""


class DevelopmentConfig(Config):
    """Plain http on 127.0.0.1, ordinary cookies, fixed development keys."""

    CSRN_ENV = "development"


class TestConfig(Config):
    """Cheap password hashing, no mail, a database given by the test suite."""

    CSRN_ENV = "test"
    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 64
    ARGON2_PARALLELISM = 1
    RATELIMIT_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.TRUSTED_HOSTS = ["127.0.0.1", "localhost"]
        self.CSRN_BASE_URL = "http://localhost"
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            os.environ.get("TEST_DATABASE_URL") or "sqlite:///:memory:"
        )
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.MAIL_SERVER = ""


class ProductionConfig(Config):
    """Secure cookies, HSTS, required two-factor; refuses to start without its secrets."""

    CSRN_ENV = "production"
    SESSION_COOKIE_SECURE = True
    HSTS = True

    def __init__(self) -> None:
        super().__init__()
        self.CSRN_REQUIRE_2FA = True

    def validate(self) -> None:
        """Refuse a missing, short, default or malformed secret, missing deployment settings, a per-process
        rate-limit store and the benchmark's rate-limit pass; warn when no mail server is set."""
        missing = [name for name in PRODUCTION_REQUIRED if not os.environ.get(name)]
        if missing:
            raise ConfigurationError(
                "Production needs these environment variables: " + ", ".join(missing)
            )
        self._validate_secret_keys()
        self._validate_encryption_keys()
        if not self.CSRN_BASE_URL.startswith("https://"):
            raise ConfigurationError("CSRN_BASE_URL must be an https:// address in production.")
        self._validate_limit_store()
        if self.BENCH_UNLIMITED_USERS:
            raise ConfigurationError(BENCH_SETTING_REFUSED)
        if not self.MAIL_SERVER:
            log.warning("No MAIL_SERVER is configured: invitations, reset links and notices stay in the outbox "
                        "and reach nobody.")

    def _validate_secret_keys(self) -> None:
        """SECRET_KEY: 32+ characters, not the development key; nor may a retired key be the development key."""
        if len(self.SECRET_KEY) < 32 or self.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
            raise ConfigurationError("SECRET_KEY must be at least 32 characters and not the default.")
        if DEVELOPMENT_SECRET_KEY in self.SECRET_KEY_FALLBACKS:
            # Anyone can sign a session cookie with the published development key.
            raise ConfigurationError("SECRET_KEY_FALLBACKS must not contain the development key.")

    def _validate_encryption_keys(self) -> None:
        """Every CSRN_ENCRYPTION_KEY entry is a Fernet key, and none is the development key."""
        keys = [key.strip() for key in self.CSRN_ENCRYPTION_KEY.split(",") if key.strip()]
        if DEVELOPMENT_ENCRYPTION_KEY in keys:
            raise ConfigurationError("CSRN_ENCRYPTION_KEY must not be the development key.")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.encode())
            except ValueError as exc:
                # Found now, not at the first encrypted write; the key itself is never printed.
                raise ConfigurationError(
                    f"CSRN_ENCRYPTION_KEY: key {position} of {len(keys)} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes)."
                ) from exc

    def _validate_limit_store(self) -> None:
        """A rate-limit store shared by every worker (SECURITY A4), unless one process is declared."""
        if self.RATELIMIT_STORAGE_URI.startswith(PER_PROCESS_LIMIT_STORE) and not self.CSRN_SINGLE_PROCESS:
            raise ConfigurationError(
                "RATELIMIT_STORAGE_URI must name a store shared by every worker (e.g. redis://127.0.0.1:6379/0): "
                "with memory:// each worker counts attempts alone. Set CSRN_SINGLE_PROCESS=1 if exactly one "
                "process serves the app."
            )


CONFIGS = {"development": DevelopmentConfig, "test": TestConfig, "production": ProductionConfig}


def load_config(env: str | None = None) -> Config:
    """Build and validate the configuration for CSRN_ENV (or the given environment)."""
    name = (env or os.environ.get("CSRN_ENV") or "development").strip().lower()
    if name not in CONFIGS:
        raise ConfigurationError(f"CSRN_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.")
    config = CONFIGS[name]()
    config.validate()
    return config
