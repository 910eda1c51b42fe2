"""The retention job (RETENTION_MONTHS, Nghị định 13/2023/NĐ-CP: kept no longer than needed): the
chat text and media of cases closed more than N months ago are erased, every day.

- a case closed before the cut-off loses its description and details (name, phone, address, the
  citizen's words) and its photos; what the statistics count stays (bot/erasure.py);
- a message older than the cut-off loses its text and attachments, unless its account still has
  an open case (that conversation is still being worked on);
- a question for the knowledge base asked before the cut-off, no longer waiting, loses its words
  and staff's answer;
- a conversation idle since before the cut-off forgets the last message shown in the console and
  the contact details the platform shared.

Run daily by `make run`'s scheduler (RETENTION_AT) or `tongdai1022-retention.timer`, or by hand:
`.venv/bin/python -m bot.retention`. Idempotent; each run is written to the audit log."""
from __future__ import annotations

import logging
import sys
import time

from bot import erasure, logs
from bot.config import Settings, load_env_file
from bot.media import MediaStore
from bot.repository import Repository

log = logging.getLogger("tongdai.retention")
MONTH_SECONDS = 30.44 * 86400
BATCH = 500


def run(repository: Repository, media: MediaStore, months: int, now: float | None = None) -> dict:
    """Returns what was erased, counted ({} when retention is off)."""
    if months <= 0:
        return {}
    cutoff = (now or time.time()) - months * MONTH_SECONDS
    counts = {"cases": 0, "messages": 0, "questions": 0, "conversations": 0, "files": 0}
    stored = []
    while batch := repository.cases_closed_before(cutoff, BATCH):
        for case in batch:
            erasure.strip_case(repository, case)
            # the message it was filed from and those whose photos went with it, whoever else is open
            ids = [case["source"].partition(":")[2], *(case.get("media_messages") or [])]
            for message in repository.messages_with_ids(case["channel"], ids):
                stored += erasure.stored_files(message.get("attachments"))
                repository.anonymise_message(message["_id"])
            for event in repository.case_events_of([case["code"]]):
                if event.get("by") == "citizen" and event.get("note"):
                    repository.rewrite_case_event(event["_id"], erasure.CITIZEN_NOTE_ERASED)
        counts["cases"] += len(batch)
    busy, after = repository.open_case_accounts(), 0.0
    while batch := repository.old_messages(after, cutoff, BATCH):
        for message in batch:
            if (message["channel"], message["user_id"]) not in busy:
                stored += erasure.stored_files(message.get("attachments"))
                repository.anonymise_message(message["_id"])
                counts["messages"] += 1
        after = batch[-1]["received_ts"]
    for conversation in repository.idle_conversations(cutoff):
        if (conversation["channel"], conversation["user_id"]) not in busy \
                and (conversation.get("last_in_text") or conversation.get("profile") or conversation.get("form")):
            repository.forget_conversation_details(conversation["channel"], conversation["user_id"])
            counts["conversations"] += 1
    while batch := repository.questions_before(cutoff, BATCH):
        for question in batch:  # staff's answer quotes the citizen at times: it goes with the question
            repository.anonymise_question(question["_id"], answer="" if question.get("answer") else None)
        counts["questions"] += len(batch)
    counts["files"] = erasure.forget_media(repository, media, stored)
    repository.audit_log("hệ thống", "retention.run", f"{months} tháng", None, counts)
    log.info("retention: erased %s", counts, extra=counts)
    return counts


def main() -> int:
    load_env_file()
    logs.setup("retention")
    settings = Settings.from_env()
    repository = Repository(settings.database_uri)
    try:
        repository.wait_until_ready(60)
        print(run(repository, MediaStore(settings.var_dir / "media", repository), settings.retention_months))
    finally:
        repository.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
