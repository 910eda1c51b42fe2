"""Copies of what citizens attach. Platform URLs expire (Zalo's after days, Meta's CDN links
sooner), so photos and files are fetched as soon as the worker sees the message, checked for
size and type, and kept under var/media/ addressed by their SHA-256.

The URL comes in a signed event, but what it points at is the citizen's (or a forger's) choice, and
the worker sits inside our network: a fetch once read http://127.0.0.1:<port>/metrics and kept it
for the console. So a URL is fetched only over HTTPS from the platforms' media hosts (MEDIA_HOSTS),
every address it resolves to must be a public one — checked before connecting and again on the
connected socket, so a DNS answer that changes in between gains nothing — a redirect is followed
only to such a URL (three at most), only the types a citizen can send are kept (a photo must decode
as one), and a download gets FETCH_DEADLINE seconds in all and must keep up MIN_RATE after its
first seconds. Fetches run in a small pool: the worker waits INLINE_WAIT for them, then goes on
with the citizen's message and the next citizens' while a slow one finishes on its own."""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from bot import images
from bot.addresses import in_networks, is_public
from bot.config import MEDIA_HOSTS_DEFAULT, Settings, private_dir
from bot.messages import StoredMessage
from bot.repository import Repository

log = logging.getLogger("tongdai.media")

MAX_BYTES = 25 * 1024 * 1024
FETCHED_TYPES = {"image", "gif", "video", "audio", "file"}
# What a citizen can send from Zalo or Messenger: photos, videos, voice notes and office documents.
# Not text/plain, HTML or anything a browser would run.
ALLOWED_CONTENT_TYPES = {
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "video/mp4", "video/quicktime", "video/3gpp",
    "audio/mpeg", "audio/mp4", "audio/aac", "audio/x-m4a", "audio/amr", "audio/ogg", "audio/wav",
    "application/pdf", "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0
FETCH_DEADLINE = 60.0          # one attachment, from the first byte asked to the last one kept
MIN_RATE, RATE_GRACE = 16 * 1024, 10.0  # bytes a second, once the first RATE_GRACE seconds are over
MAX_REDIRECTS = 3
INLINE_WAIT = 3.0              # how long the worker waits for a message's fetches before going on
FETCHERS = 4
STALE_TEMPORARY = 3600.0       # a half-written file older than this was left by a process that died


class Refused(Exception):
    """This URL or address may not be fetched; the message says why, in Vietnamese."""


@dataclass(frozen=True)
class FetchPolicy:
    hosts: tuple[str, ...]             # "https://*.zadn.vn", "http://127.0.0.1:8123" (tests)
    private_networks: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> "FetchPolicy":
        return cls(tuple(settings.media_hosts), tuple(settings.media_private_networks))

    def check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        except ValueError:
            raise Refused("đường dẫn không hợp lệ") from None
        host = (parts.hostname or "").lower().rstrip(".")
        if not host or parts.username or parts.password or not any(
                _matches(pattern, parts.scheme, host, port) for pattern in self.hosts):
            raise Refused("đường dẫn không thuộc máy chủ ảnh, tệp của Zalo hoặc Messenger")

    def check_address(self, address: str) -> None:
        if not (is_public(address) or in_networks(address, self.private_networks)):
            raise Refused("địa chỉ mạng nội bộ")

    def check_host(self, url: str) -> None:
        """Every address the URL's host resolves to must be allowed."""
        parts = urlsplit(url)
        try:
            found = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise Refused("không tìm thấy máy chủ") from None
        for *_, sockaddr in found:
            self.check_address(sockaddr[0])


def _matches(pattern: str, scheme: str, host: str, port: int | None) -> bool:
    allowed = urlsplit(pattern.strip())
    allowed_host = (allowed.hostname or "").lower()
    allowed_port = allowed.port or {"https": 443, "http": 80}.get(allowed.scheme)
    if allowed.scheme != scheme or allowed_port != port or not allowed_host:
        return False
    if allowed_host.startswith("*."):
        return host.endswith(allowed_host[1:])
    return host == allowed_host


class _Guarded:
    """A connection that refuses a socket connected to an address the policy does not allow (the
    name may have resolved differently since it was checked)."""
    policy: FetchPolicy

    def _new_conn(self):
        sock = super()._new_conn()
        try:
            self.policy.check_address(sock.getpeername()[0])
        except Refused as refused:
            sock.close()
            raise NewConnectionError(self, f"refused: {refused}") from refused
        return sock


def guarded_session(policy: FetchPolicy) -> requests.Session:
    """A session whose every connection is checked on its socket, with no proxy from the environment
    (the peer would then be the proxy) and no redirect followed on its own."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(max_retries=0)
    connections = {scheme: type(f"Guarded{base.__name__}", (_Guarded, base), {"policy": policy})
                   for scheme, base in (("http", HTTPConnection), ("https", HTTPSConnection))}
    adapter.poolmanager.pool_classes_by_scheme = {
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": connections["http"]}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": connections["https"]})}
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_swept: set[Path] = set()


def _fetchers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=FETCHERS, thread_name_prefix="media-fetch")
        return _pool


class MediaStore:
    def __init__(self, directory: Path, repository: Repository, http: requests.Session | None = None,
                 max_bytes: int = MAX_BYTES, policy: FetchPolicy | None = None):
        self.directory = directory
        self.repository = repository
        self.policy = policy or FetchPolicy(tuple(h.strip() for h in MEDIA_HOSTS_DEFAULT.split(",")))
        self.http = http or guarded_session(self.policy)
        self.max_bytes = max_bytes

    @classmethod
    def for_settings(cls, settings: Settings, repository: Repository, **options) -> "MediaStore":
        return cls(settings.var_dir / "media", repository, policy=FetchPolicy.from_settings(settings), **options)

    def keep_all(self, message: StoredMessage) -> list[dict]:
        """Fetch every attachment of `message` not yet kept and record the results on the message.
        Returns the attachments as far as they are known after INLINE_WAIT: a fetch still running
        then records its result when it ends, without holding up the worker."""
        attachments = [dict(a) for a in message.attachments]
        pending = [a for a in attachments if a.get("type") in FETCHED_TYPES and a.get("url")
                   and "stored" not in a and "fetch_error" not in a]
        if not pending:
            return attachments
        self._sweep()
        seen_now = [dict(a) for a in attachments]
        job = _fetchers().submit(self._fetch_and_record, message.id, attachments, pending)
        try:
            return job.result(timeout=INLINE_WAIT)
        except FutureTimeout:
            log.info("attachments still downloading: the message goes on", extra={"attachments": len(pending)})
            return seen_now

    def _fetch_and_record(self, doc_id, attachments: list[dict], pending: list[dict]) -> list[dict]:
        try:
            for attachment in pending:
                attachment.update(self.fetch(attachment["url"]))
            self.repository.save_attachments(doc_id, attachments)
            return attachments
        except Exception:
            log.exception("keeping attachments failed")
            raise

    def fetch(self, url: str) -> dict:
        started = time.monotonic()
        try:
            for _ in range(MAX_REDIRECTS + 1):
                self.policy.check_url(url)
                self.policy.check_host(url)
                with self.http.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                                   allow_redirects=False) as response:
                    if response.is_redirect:  # to another allowed URL only: checked again above
                        url = urljoin(url, response.headers.get("Location", ""))
                        continue
                    return self._receive(response, started)
            return {"fetch_error": "máy chủ chuyển hướng quá nhiều lần"}
        except Refused as refused:
            log.warning("attachment refused: %s", refused, extra={"host": urlsplit(url).hostname})
            return {"fetch_error": f"không tải: {refused}"}
        except requests.RequestException as exc:
            refused = "refused: " in str(exc)
            log.warning("attachment fetch failed: %s", "refused address" if refused else type(exc).__name__)
            return {"fetch_error": "không tải: địa chỉ mạng nội bộ" if refused
                    else f"không tải được tệp ({type(exc).__name__})"}

    def _receive(self, response: requests.Response, started: float) -> dict:
        if response.status_code != 200:
            return {"fetch_error": f"máy chủ trả lỗi HTTP {response.status_code}"}
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in ALLOWED_CONTENT_TYPES:
            return {"fetch_error": f"loại tệp không được chấp nhận ({content_type or 'không rõ'})"}
        if int(response.headers.get("Content-Length") or 0) > self.max_bytes:
            return self._too_large()
        return self._write(_timed(response, started), content_type)

    def describe_image(self, data: bytes) -> dict:
        """An uploaded photo, checked from its bytes (bot/images.py) but not yet written:
        {"stored": ...} as it will be kept, or {"fetch_error": why}."""
        if len(data) > self.max_bytes:
            return self._too_large()
        content_type = images.identify(data)
        if content_type is None:
            return {"fetch_error": "tệp không phải là ảnh JPG, PNG, GIF hoặc WEBP"}
        sha256 = hashlib.sha256(data).hexdigest()
        return {"stored": {"sha256": sha256, "content_type": content_type, "bytes": len(data),
                           "path": f"{sha256[:2]}/{sha256}"}}

    def write(self, data: bytes, stored: dict) -> None:
        """Put `data` where `stored` says (after whatever refers to it was recorded: a refused or
        repeated upload leaves no file behind)."""
        path = self.path_of(stored)
        if path.exists():
            return
        private_dir(path.parent)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)

    def store_image(self, data: bytes) -> dict:
        """Keep a photo (a staff member's, a reply's): checked from its bytes, then written."""
        described = self.describe_image(data)
        if "stored" in described:
            self.write(data, described["stored"])
        return described

    def path_of(self, stored: dict) -> Path:
        return self.directory / stored["path"]

    def _too_large(self) -> dict:
        return {"fetch_error": f"tệp quá lớn (trên {self.max_bytes // (1024 * 1024) or 1} MB)"}

    def _write(self, chunks, content_type: str) -> dict:
        """Stream into a temporary file (0600) under the limit, check it, then move it to its name."""
        private_dir(self.directory)
        digest, size = hashlib.sha256(), 0
        with tempfile.NamedTemporaryFile(dir=self.directory, delete=False) as tmp:
            try:
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:  # Content-Length may be absent or wrong
                        raise _Abort(self._too_large()["fetch_error"])
                    digest.update(chunk)
                    tmp.write(chunk)
            except _Abort as abort:
                tmp.close()
                os.unlink(tmp.name)
                return {"fetch_error": str(abort)}
        if content_type.startswith("image/"):  # a photo is what its bytes decode as
            content_type = images.identify(Path(tmp.name).read_bytes())
            if content_type is None:
                os.unlink(tmp.name)
                return {"fetch_error": "tệp không phải là ảnh hợp lệ"}
        sha256 = digest.hexdigest()
        path = private_dir(self.directory / sha256[:2]) / sha256
        os.replace(tmp.name, path)  # the same content always lands on the same name
        return {"stored": {"sha256": sha256, "content_type": content_type, "bytes": size,
                           "path": str(path.relative_to(self.directory))}}

    def _sweep(self) -> None:
        """Once a process: half-written files a process that died left behind."""
        if self.directory in _swept or not self.directory.is_dir():
            return
        _swept.add(self.directory)
        for leftover in self.directory.glob("tmp*"):
            try:
                if time.time() - leftover.stat().st_mtime > STALE_TEMPORARY:
                    leftover.unlink()
            except OSError:
                pass


class _Abort(Exception):
    """A download stopped half-way; the message says why, in Vietnamese."""


def _timed(response: requests.Response, started: float):
    """The body as it arrives, within FETCH_DEADLINE in all and at MIN_RATE or better after
    RATE_GRACE: a server trickling a byte every two seconds is cut off, not waited for."""
    received = 0
    while True:
        elapsed = time.monotonic() - started
        if elapsed > FETCH_DEADLINE:
            raise _Abort("tải quá lâu")
        if elapsed > RATE_GRACE and received / elapsed < MIN_RATE:
            raise _Abort("máy chủ gửi tệp quá chậm")
        chunk = response.raw.read1(64 * 1024, decode_content=True)
        if not chunk:
            return
        received += len(chunk)
        yield chunk
