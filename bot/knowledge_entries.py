"""Knowledge-base entries as stored: their fields, their life (draft → published → retired), the
message a citizen gets from one, and loading them from a YAML file (`python -m bot.knowledge_import`).

An entry document: `_id` (its id), `questions` (how people ask it), `answer`, `source_document`,
`source_issuer`, `source_url`, `scope` (district names; empty: the whole province), `valid_from` /
`valid_until` (YYYY-MM-DD or None), `status`, `needs_review` ("yes" for entries loaded from a file,
until an admin publishes them), `origin` ("import", "console", or "question:<key>"), `created_by`,
`updated_by`, `approved_by`, `created_ts`, `updated_ts`, `published_ts`, `retired_ts`."""
from __future__ import annotations

import re
import secrets
import time
import unicodedata
from datetime import datetime

from bot import texts
from bot.hours import VIETNAM
from bot.text_split import split_text
from nlu.text import strip_diacritics

STATUSES = {"draft": "Bản nháp", "published": "Đang dùng", "retired": "Ngừng dùng"}
QUESTION_STATUSES = {"waiting": "Chờ trả lời", "answered": "Cán bộ đã trả lời", "auto": "Tổng đài tự động đã trả lời",
                     "closed": "Đã bỏ qua"}
IMPORTER = "nhập dữ liệu"   # who the entries loaded from a file were written by
MAX_PARTS = 2               # an answer fits two platform messages, source line included
ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")


def nfc(value) -> str:
    return unicodedata.normalize("NFC", str(value or "")).strip()


def new_id(question: str) -> str:
    """"Tiêm mũi 3 ở đâu?" -> "tiem-mui-3-o-dau-3f2a": readable in the console and the audit log."""
    words = re.findall(r"[a-z0-9]+", strip_diacritics(nfc(question)).lower())
    return "-".join(words)[:50].strip("-") + "-" + secrets.token_hex(2)


def source_line(document: str, issuer: str) -> str:
    """"Nghị quyết 128/NQ-CP ngày 11/10/2021 (Chính phủ)": what follows "Theo" in an answer."""
    return f"{document} ({issuer})" if document and issuer else document or issuer


def source_text(entry: dict) -> str:
    return source_line(entry.get("source_document") or "", entry.get("source_issuer") or "")


def vn_date(ts: float | None) -> str:
    return datetime.fromtimestamp(ts or time.time(), VIETNAM).strftime("%d/%m/%Y")


def message_parts(entry: dict) -> list[str]:
    """The answer exactly as a citizen receives it, one string per platform message."""
    return split_text(texts.knowledge_answer(nfc(entry.get("answer")), source_text(entry), entry.get("source_url") or "",
                                             vn_date(entry.get("updated_ts"))))


def imported_document(item: dict, now: float) -> dict:
    """An entry of the YAML file as a draft waiting for an officer's review."""
    source = item.get("source") or {}
    return {"questions": [nfc(q) for q in item["questions"]], "answer": " ".join(nfc(item["answer"]).split()),
            "source_document": nfc(source.get("document")), "source_issuer": nfc(source.get("issuer")),
            "source_url": nfc(source.get("url")), "scope": [nfc(d) for d in item.get("scope") or []],
            "valid_from": _day(item.get("valid_from")), "valid_until": _day(item.get("valid_until")),
            "status": "draft", "needs_review": "yes", "origin": "import", "updated_by": IMPORTER, "updated_ts": now}


def _day(value) -> str | None:
    return str(value) if value else None  # YAML reads 2021-10-11 as a date; stored as "2021-10-11"


def load(repository, items: list[dict]) -> dict[str, int]:
    """Add the file's new entries as drafts and refresh the drafts it added before; an entry staff
    have edited, published or retired is left as they made it. Returns what it did."""
    done = {"added": 0, "updated": 0, "kept": 0}
    now = time.time()
    for item in items:
        if not ID.match(str(item.get("id") or "")):
            raise ValueError(f"not an entry id: {item.get('id')!r} (lower-case letters, digits and -)")
        document = imported_document(item, now)
        if repository.insert_entry({"_id": item["id"], **document, "created_by": IMPORTER, "created_ts": now}):
            done["added"] += 1
            continue
        existing = repository.find_entry(item["id"])
        untouched = existing and existing.get("updated_by") == IMPORTER and existing.get("status") == "draft"
        if untouched and any(existing.get(k) != v for k, v in document.items() if k != "updated_ts"):
            repository.update_entry(item["id"], statuses=("draft",), **document)
            done["updated"] += 1
        else:
            done["kept"] += 1
    return done
