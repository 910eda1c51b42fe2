"""Settings from the environment (and `.env`), in one place. Names follow CONTRACT.md."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

REPO_ROOT = Path(__file__).resolve().parent.parent
DATABASE_NAME = "tongdai1022"


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
            secure_cookies=get("SECURE_COOKIES", "0").lower() in ("1", "true", "yes"),
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
        )

    @property
    def database_uri(self) -> str:
        """MONGODB_URI, or the embedded server that `make run` starts."""
        return self.mongodb_uri or f"mongodb://127.0.0.1:{self.embedded_db_port}/{DATABASE_NAME}"

    @property
    def nlu_base_url(self) -> str:
        return (self.nlu_url or f"http://127.0.0.1:{self.nlu_port}").rstrip("/")

    def secret_key(self) -> str:
        """SECRET_KEY, or one generated on first use and kept under var/."""
        configured = os.environ.get("SECRET_KEY", "").strip()
        if configured:
            return configured
        path = self.var_dir / "secret_key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()
