"""Copies of what citizens attach. Platform URLs expire (Zalo's after days, Meta's CDN links
sooner), so photos and files are fetched as soon as the worker sees the message, checked for
size and type, and kept under var/media/ addressed by their SHA-256."""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import requests

from bot import images
from bot.config import private_dir
from bot.repository import Repository

log = logging.getLogger("tongdai.media")

MAX_BYTES = 25 * 1024 * 1024
FETCHED_TYPES = {"image", "gif", "video", "audio", "file"}
ALLOWED_CONTENT_TYPES = {
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
    "video/mp4", "video/quicktime", "video/3gpp",
    "audio/mpeg", "audio/mp4", "audio/aac", "audio/x-m4a", "audio/amr", "audio/ogg", "audio/wav",
    "application/pdf", "text/plain", "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class MediaStore:
    def __init__(self, directory: Path, repository: Repository, http: requests.Session | None = None,
                 max_bytes: int = MAX_BYTES):
        self.directory = directory
        self.repository = repository
        self.http = http or requests.Session()
        self.max_bytes = max_bytes

    def keep_all(self, message: dict) -> list[dict]:
        """Fetch every attachment of `message` not yet kept; record the result on the message."""
        attachments = [dict(a) for a in message.get("attachments") or []]
        pending = [a for a in attachments if a.get("type") in FETCHED_TYPES and a.get("url")
                   and "stored" not in a and "fetch_error" not in a]
        for attachment in pending:
            attachment.update(self.fetch(attachment["url"]))
        if pending:
            self.repository.save_attachments(message["_id"], attachments)
        return attachments

    def fetch(self, url: str) -> dict:
        if not url.startswith(("https://", "http://")):
            return {"fetch_error": "đường dẫn không hợp lệ"}
        try:
            with self.http.get(url, stream=True, timeout=(5, 30)) as response:
                if response.status_code != 200:
                    return {"fetch_error": f"máy chủ trả lỗi HTTP {response.status_code}"}
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if content_type not in ALLOWED_CONTENT_TYPES:
                    return {"fetch_error": f"loại tệp không được chấp nhận ({content_type or 'không rõ'})"}
                if int(response.headers.get("Content-Length") or 0) > self.max_bytes:
                    return self._too_large()
                return self._write(response.iter_content(64 * 1024), content_type)
        except requests.RequestException as exc:
            log.warning("attachment fetch failed: %s", type(exc).__name__)
            return {"fetch_error": f"không tải được tệp ({type(exc).__name__})"}

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
        self.directory.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with tempfile.NamedTemporaryFile(dir=self.directory, delete=False) as tmp:
            try:
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:  # Content-Length may be absent or wrong
                        raise ValueError
                    digest.update(chunk)
                    tmp.write(chunk)
            except ValueError:
                tmp.close()
                os.unlink(tmp.name)
                return self._too_large()
        sha256 = digest.hexdigest()
        path = self.directory / sha256[:2] / sha256
        path.parent.mkdir(exist_ok=True)
        os.replace(tmp.name, path)  # the same content always lands on the same name
        return {"stored": {"sha256": sha256, "content_type": content_type, "bytes": size,
                           "path": str(path.relative_to(self.directory))}}
