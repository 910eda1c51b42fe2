"""A system with a bit of everything, filled the way it fills in service: citizens' messages
through the webhooks and the worker (the real NLU server, fake platforms), a report with a photo
filed as a case, a case moved on by staff with a notice to the citizen, a chat handed to a
person, staff accounts, an edited routing table, an audit trail, knowledge-base entries (drafts
and a published one) and citizens' questions (one answered from it, one waiting for staff).

Used by the restore drill, and to freeze a copy of the data a version of the code makes (the
migration tests start from it): `python -m tests.filling DIR` fills an embedded database under
DIR/var with the code of this checkout and archives it (see README, "Upgrades")."""
from __future__ import annotations

import argparse
import copy
import os
import signal
import subprocess
import shutil
import sys
from pathlib import Path

import yaml
from pymongo import MongoClient

from bot import knowledge_entries
from bot import cases, privacy
from bot.app import create_app
from bot.config import REPO_ROOT, Settings
from bot.console.access import passwords
from bot.routing import RoutingTable
from bot.worker import Worker, build_pipeline
from nlu.client import NluClient
from tests.conftest import (NLU_PYTHON, environment_for_tests, free_port, load_fixture, post_facebook, post_zalo,
                            wait_until)
from tests.fakes import FakeGraphAPI, FakeZalo
from tests.helpers import jpeg
from webhooks.registry import build_channels

PHOTO = jpeg(320, 240, (90, 140, 60))
REPORT = "Cho em phản ánh ở khóm 3 phường 7 TP Trà Vinh tối qua có nhóm thanh niên tụ tập nhậu đông người"


def zalo(text: str, msg_id: str, user: str, photo_url: str | None = None) -> dict:
    event = load_fixture("zalo", "user_send_image" if photo_url else "user_send_text")
    event["sender"]["id"] = user
    event["message"].update(text=text, msg_id=msg_id)
    if photo_url:
        event["message"]["attachments"][0]["payload"]["url"] = photo_url
    return event


def fill(settings: Settings, fake_zalo: FakeZalo) -> dict:
    """Fill the database at settings.database_uri and settings.var_dir/media. Returns counts."""
    app = create_app(settings)
    repository = app.extensions["repository"]
    client = app.test_client()
    worker = Worker(repository, build_pipeline(settings, repository, build_channels(settings, repository)),
                    worker_id="filling")
    try:
        fake_zalo.files["/photo.jpg"] = ("image/jpeg", PHOTO)
        for n in range(12):
            assert post_zalo(client, zalo("xin chào tổng đài", f"hello-{n}", f"citizen-{n}")).status_code == 200
        for n, user in enumerate(("reporter-1", "reporter-2")):
            assert post_zalo(client, zalo(REPORT, f"report-{n}", user)).status_code == 200
            worker.drain()
            assert post_zalo(client, zalo("Ảnh đây", f"photo-{n}", user, f"{fake_zalo.url}/photo.jpg")).status_code == 200
            worker.drain()
            assert post_zalo(client, zalo("đúng", f"confirm-{n}", user)).status_code == 200
            worker.drain()
        payload = load_fixture("facebook", "messages")
        payload["entry"][0]["messaging"][0]["message"].update(text="tôi muốn gặp nhân viên", mid="m_fill_1")
        assert post_facebook(client, payload).status_code == 200
        worker.drain()

        seed = yaml.safe_load((REPO_ROOT / "data" / "knowledge_seed.yml").read_text(encoding="utf-8"))
        knowledge_entries.load(repository, seed[:3])
        repository.update_entry(seed[0]["id"], status="published", needs_review="no", approved_by="quantri")
        repository.bump_knowledge_version()
        for n, question in enumerate(("cho hoi dam cuoi 50 nguoi co dc to chuc ko",
                                      "cho hỏi sân bóng đá mini có được mở lại không")):
            assert post_zalo(client, zalo(question, f"question-{n}", f"asker-{n}")).status_code == 200
            worker.drain()

        for username, role, agency in (("quantri", "admin", None), ("dtv1", "operator", None),
                                       ("ubnd_tp", "agency", "ubnd_tp_tra_vinh")):
            repository.create_staff(username=username, password_hash=passwords.hash(f"{username}-mật-khẩu-1"),
                                    role=role, agency=agency, name=f"Cán bộ {username}")
            repository.audit_log("quantri", "create_staff", username, after={"role": role})
        table = copy.deepcopy(RoutingTable.current(repository).to_document())  # it holds the process's cached file
        table["sla_hours"]["report"] = 12
        repository.save_routing_table(table)
        repository.audit_log("quantri", "edit_routing", "sla_hours", before={"report": 24}, after={"report": 12})
        code = repository.cases.find_one({"user_id": "reporter-1"})["code"]
        repository.change_status(code, "in_progress", by="ubnd_tp", note="Đã cử tổ công tác xuống khóm 3.",
                                 public=True)
        other = repository.cases.find_one({"user_id": "reporter-2"})["code"]  # a closed case too
        repository.change_status(other, "resolved", by="ubnd_tp", note="Đã nhắc nhở, giải tán nhóm tụ tập.",
                                 public=True)
        # the citizen's side (issue 17): a rating with its comment, an erasure request waiting for an admin
        cases.rate(repository, other, 2, key="zalo:rate-fill")
        cases.rating_comment(repository, other, "Mấy ngày sau mới thấy xuống", key="zalo:rate-comment-fill")
        privacy.request_erasure(repository, "zalo", "citizen-3", key="zalo:erase-fill")
        worker.drain()
        db = repository.db
        counts = {name: db[name].count_documents({}) for name in db.list_collection_names()}
        assert counts["cases"] == 2 and counts["staff"] == 4, counts  # the first admin too
        assert counts["kb_entries"] == 3 and counts["kb_questions"] == 2, counts
        return counts
    finally:
        repository.close()


def start_database(settings: Settings) -> subprocess.Popen:
    """The embedded server exactly as `make run` starts it, for settings.var_dir."""
    from bot.run import services
    command = dict(services(settings))["database"]
    process = subprocess.Popen(["/bin/sh", "-c", command], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    client = MongoClient(settings.database_uri, serverSelectionTimeoutMS=500)

    def answers():
        assert process.poll() is None, "the embedded database server exited"
        try:
            return client.admin.command("ping")
        except Exception:
            return None

    try:
        wait_until(answers, 30, "the embedded database server")
    finally:
        client.close()
    return process


def stop_database(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the filled system's VAR_DIR is FOLDER/var")
    parser.add_argument("--archive", type=Path, help="then back it up (bot/backup.py) into this file")
    args = parser.parse_args()
    zalo, graph = FakeZalo(), FakeGraphAPI()
    nlu = None
    nlu_url = os.environ.get("TEST_NLU_URL")
    if not nlu_url:
        port = free_port()
        nlu = subprocess.Popen([str(NLU_PYTHON), "-m", "nlu", "serve", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nlu_url = f"http://127.0.0.1:{port}"
    env = environment_for_tests(None, nlu_url, zalo.url, graph.base_url, args.folder / "var")
    settings = Settings.from_env({**env, "EMBEDDED_DB_PORT": str(free_port())})
    database = start_database(settings)
    try:
        wait_until(NluClient(nlu_url).is_ready, 240, "the NLU server", interval=0.5)
        print(fill(settings, zalo))
    finally:
        stop_database(database)
        if nlu:
            nlu.terminate()
            nlu.wait(timeout=30)
        zalo.close()
        graph.close()
    if args.archive:
        from bot.backup import create  # not in the code of version 0: archive its data with a later checkout
        shutil.move(create(settings), args.archive)
        print(f"archived into {args.archive}")


if __name__ == "__main__":
    sys.exit(main())
