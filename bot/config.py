"""Settings from the environment (and `.env`), in one place. Names follow CONTRACT.md."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from dotenv import load_dotenv

REPO_ROOT = Path(__file__).resolve().parent.parent
DATABASE_NAME = "tongdai1022"
EMBEDDED_DB_USER = "tongdai"


def load_env_file() -> None:
    """Read `.env` at the repository root; the real environment wins."""
    load_dotenv(REPO_ROOT / ".env", override=False)


def _proxy_hops(value: str) -> int:
    """TRUST_PROXY: how many proxies append to X-Forwarded-For ("yes"/"true" is one)."""
    if value.lower() in ("yes", "true", "on"):
        return 1
    if value.lower() in ("no", "false", "off"):
        return 0
    return max(0, int(value))


def _flag(value: str | None) -> bool | None:
    """"1"/"yes"/"true" or "0"/"no"/"false"; None when unset."""
    if value is None:
        return None
    return value.lower() in ("1", "true", "yes", "on")


def _items(value: str) -> tuple[str, ...]:
    """A comma-separated list."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# Where a citizen's attachments may be fetched from: each platform's media servers, over HTTPS
# (seen in Zalo's and Meta's payloads: photo-stal-1.zadn.vn, f1-stal.zdn.vn, scontent.xx.fbcdn.net,
# cdn.fbsbx.com). Anything else is refused, so a signed event cannot make the worker fetch from
# inside our network.
MEDIA_HOSTS_DEFAULT = "https://*.zadn.vn, https://*.zdn.vn, https://*.zalo.me, https://*.fbcdn.net, https://*.fbsbx.com"


def _time_of_day(value: str, name: str = "BACKUP_AT") -> str | None:
    """BACKUP_AT, RETENTION_AT: "HH:MM" or "HH:MM:SS" (Vietnam time), or "off"."""
    if value.lower() in ("off", "no", "none", "0"):
        return None
    parts = value.split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts) or int(parts[0]) > 23 \
            or any(int(p) > 59 for p in parts[1:]):
        raise ValueError(f"{name} must be HH:MM (Vietnam time) or off, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    mongodb_uri: str | None
    embedded_db_port: int
    host: str
    port: int
    nlu_url: str | None
    nlu_port: int
    fb_app_secret: str | None
    fb_verify_token: str | None
    fb_page_access_token: str | None
    fb_graph_url: str
    zalo_app_id: str | None
    zalo_app_secret: str | None
    zalo_oa_secret_key: str | None
    zalo_access_token: str | None
    zalo_refresh_token: str | None
    zalo_openapi_url: str
    zalo_oauth_url: str
    working_hours: str          # when staff answer hand-offs, Vietnam time: "07:00-21:00"
    handoff_quiet_minutes: int  # a chat handed to people returns to the bot after this long without staff
    form_timeout_minutes: int   # a half-finished case form is dropped after this long without an answer
    workers: int                # worker processes `make run` starts
    admin_username: str         # the first staff account, created when there is none
    admin_password: str | None  # unset: generated and printed once
    secure_cookies: bool        # behind HTTPS: session cookies only travel over it
    worker_lease_seconds: float  # a claimed message returns to the queue this long after its worker died
    web_database_timeout_ms: int  # the web process answers 503 this soon when the database is unreachable
    bench_bare_endpoint: bool   # `make bench` only: a baseline endpoint that stores one document
    web_chat_ip_per_minute: int = 60  # web-chat messages from one address; a family shares one, a script floods
    trust_proxy: int = 0        # reverse proxies in front of the app; their X-Forwarded-For names the citizen
    web_processes: int = 1      # 1: waitress in one process; more: gunicorn with that many processes
    backup_dir: Path | None = None  # unset: VAR_DIR/backups
    backup_keep: int = 14       # the newest this many backups are kept, older ones deleted
    backup_at: str | None = "02:30"  # when `make run` takes the nightly backup, Vietnam time; None: never
    # E-mail for the daily overdue alert (unset host: the alert stays in the console only).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "tongdai1022@localhost"
    smtp_starttls: bool = True
    overdue_alert_hour: int = 7  # Vietnam time: the daily overdue alert goes at the start of the shift
    public_url: str = "http://127.0.0.1:5000"  # where citizens reach the app: the links in chat replies
    tracking_lookups_per_hour: int = 20  # /tra-cuu lookups from one address: 4 digits are 10,000 guesses
    retention_months: int = 12  # chat text and media of closed cases are erased after this long; 0: kept
    retention_at: str | None = "03:00"  # when `make run` runs the retention job, Vietnam time; None: never
    worker_concurrency: int = 32  # citizens one worker handles at once (each citizen's messages stay in order)
    # Who may read /metrics and /healthz's details: these addresses and networks, or a request with
    # the token (`Authorization: Bearer …`).
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1")
    metrics_token: str | None = None
    console_session_hours: float = 12.0  # a staff session ends this long after sign-in (a shift)
    console_idle_minutes: float = 30.0   # … or after this long without the person doing anything
    # How often an open console page asks for news (queue, chat, alerts); twice as long in a hidden tab.
    console_refresh_seconds: float = 5.0
    media_hosts: tuple[str, ...] = _items(MEDIA_HOSTS_DEFAULT)
    # Private networks attachments may still come from (tests and local fakes only): by default a
    # URL that resolves to a loopback, private, link-local or metadata address is never fetched.
    media_private_networks: tuple[str, ...] = ()
    token_key: str | None = None  # encrypts the platforms' tokens in the database; unset: from SECRET_KEY

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(name, "").strip()
            return value or default

        var_dir = Path(get("VAR_DIR", str(REPO_ROOT / "var")))
        return cls(
            var_dir=var_dir,
            mongodb_uri=get("MONGODB_URI"),
            embedded_db_port=int(get("EMBEDDED_DB_PORT", "27027")),
            host=get("HOST", "127.0.0.1"),
            port=int(get("PORT", "5000")),
            nlu_url=get("NLU_URL"),
            nlu_port=int(get("NLU_PORT", "5005")),
            fb_app_secret=get("FB_APP_SECRET"),
            fb_verify_token=get("FB_VERIFY_TOKEN"),
            fb_page_access_token=get("FB_PAGE_ACCESS_TOKEN"),
            fb_graph_url=get("FB_GRAPH_URL", "https://graph.facebook.com/v21.0").rstrip("/"),
            zalo_app_id=get("ZALO_APP_ID"),
            zalo_app_secret=get("ZALO_APP_SECRET"),
            zalo_oa_secret_key=get("ZALO_OA_SECRET_KEY"),
            zalo_access_token=get("ZALO_ACCESS_TOKEN"),
            zalo_refresh_token=get("ZALO_REFRESH_TOKEN"),
            zalo_openapi_url=get("ZALO_OPENAPI_URL", "https://openapi.zalo.me").rstrip("/"),
            zalo_oauth_url=get("ZALO_OAUTH_URL", "https://oauth.zaloapp.com").rstrip("/"),
            working_hours=get("WORKING_HOURS", "07:00-21:00"),
            handoff_quiet_minutes=int(get("HANDOFF_QUIET_MINUTES", "240")),
            form_timeout_minutes=int(get("FORM_TIMEOUT_MINUTES", "60")),
            workers=max(1, int(get("WORKERS", "1"))),
            admin_username=get("ADMIN_USERNAME", "admin"),
            admin_password=get("ADMIN_PASSWORD"),
            # Secure by default, except in local development: listening on loopback with no proxy.
            secure_cookies=_flag(get("SECURE_COOKIES")) if get("SECURE_COOKIES") is not None else not (
                get("HOST", "127.0.0.1") in LOOPBACK_HOSTS and _proxy_hops(get("TRUST_PROXY", "0")) == 0),
            web_chat_ip_per_minute=max(1, int(get("WEB_CHAT_IP_PER_MINUTE", "60"))),
            trust_proxy=_proxy_hops(get("TRUST_PROXY", "0")),
            worker_lease_seconds=float(get("WORKER_LEASE_SECONDS", "60")),
            # Inside the platforms' webhook deadlines (Zalo expects an answer within about 2 s,
            # Meta waits 20 s): a quick 503 makes them deliver again later.
            web_database_timeout_ms=int(get("WEB_DATABASE_TIMEOUT_MS", "1000")),
            bench_bare_endpoint=get("BENCH_BARE_ENDPOINT") == "1",
            web_processes=max(1, int(get("WEB_PROCESSES", "1"))),
            backup_dir=Path(get("BACKUP_DIR", str(var_dir / "backups"))),
            backup_keep=max(1, int(get("BACKUP_KEEP", "14"))),
            backup_at=_time_of_day(get("BACKUP_AT", "02:30")),
            smtp_host=get("SMTP_HOST"),
            smtp_port=int(get("SMTP_PORT", "587")),
            smtp_user=get("SMTP_USER"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_from=get("SMTP_FROM", "tongdai1022@localhost"),
            smtp_starttls=get("SMTP_STARTTLS", "1").lower() in ("1", "true", "yes"),
            overdue_alert_hour=int(get("OVERDUE_ALERT_HOUR", "7")),
            public_url=get("PUBLIC_URL", f"http://{get('HOST', '127.0.0.1')}:{get('PORT', '5000')}").rstrip("/"),
            tracking_lookups_per_hour=max(1, int(get("TRACKING_LOOKUPS_PER_HOUR", "20"))),
            retention_months=max(0, int(get("RETENTION_MONTHS", "12"))),
            retention_at=_time_of_day(get("RETENTION_AT", "03:00"), "RETENTION_AT"),
            worker_concurrency=max(1, int(get("WORKER_CONCURRENCY", "32"))),
            metrics_allow=_items(get("METRICS_ALLOW", "127.0.0.0/8, ::1")),
            metrics_token=get("METRICS_TOKEN"),
            console_session_hours=float(get("CONSOLE_SESSION_HOURS", "12")),
            console_idle_minutes=float(get("CONSOLE_IDLE_MINUTES", "30")),
            console_refresh_seconds=max(1.0, float(get("CONSOLE_REFRESH_SECONDS", "5"))),
            media_hosts=_items(get("MEDIA_HOSTS", MEDIA_HOSTS_DEFAULT)),
            media_private_networks=_items(get("MEDIA_ALLOW_PRIVATE", "")),
            token_key=get("TOKEN_KEY"),
        )

    @property
    def database_uri(self) -> str:
        """MONGODB_URI, or the embedded server that `make run` starts (bot/embedded_db.py), which
        takes its user and password from VAR_DIR/db_password."""
        if self.mongodb_uri:
            return self.mongodb_uri
        password = quote(self.embedded_db_password(), safe="")
        return (f"mongodb://{EMBEDDED_DB_USER}:{password}@127.0.0.1:{self.embedded_db_port}/{DATABASE_NAME}"
                "?authSource=admin&authMechanism=SCRAM-SHA-256")

    @property
    def embedded_db_password_file(self) -> Path:
        self.embedded_db_password()  # made on first use
        return self.var_dir / "db_password"

    @property
    def nlu_base_url(self) -> str:
        return (self.nlu_url or f"http://127.0.0.1:{self.nlu_port}").rstrip("/")

    def secret_key(self) -> str:
        """SECRET_KEY, or one generated on first use and kept under var/."""
        return self._generated("SECRET_KEY", "secret_key")

    def embedded_db_password(self) -> str:
        """The embedded database's password: EMBEDDED_DB_PASSWORD, or generated on first use and
        kept under var/ (readable by the app's user only)."""
        return self._generated("EMBEDDED_DB_PASSWORD", "db_password")

    def _generated(self, variable: str, filename: str) -> str:
        configured = os.environ.get(variable, "").strip()
        if configured:
            return configured
        path = self.var_dir / filename
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def private_dir(path: Path) -> Path:
    """A folder only the app's user may enter (citizens' data, hashes and keys live under it);
    one made earlier with looser rights is tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    status = path.stat()
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        path.chmod(0o700)
    return path
