"""Data at rest: the embedded database answers nothing without SCRAM-SHA-256 authentication, its
files and VAR_DIR are the app's user's only, and the platforms' tokens are stored encrypted."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure
from pymongo.uri_parser import parse_uri

from bot.config import REPO_ROOT, Settings
from bot.run import services
from bot.token_cipher import is_sealed
from tests.fakes import FakeZalo

embedded_only = pytest.mark.skipif(bool(os.environ.get("TEST_MONGODB_URI")), reason="the embedded server's own")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@embedded_only
def test_the_embedded_database_refuses_a_client_without_the_password(mongo_server, database_uri):
    node = parse_uri(mongo_server)["nodelist"][0]
    for uri in (f"mongodb://{node[0]}:{node[1]}/tongdai1022",
                f"mongodb://tongdai:wrong-password@{node[0]}:{node[1]}/tongdai1022?authSource=admin"):
        client = MongoClient(uri, serverSelectionTimeoutMS=3000)
        try:
            with pytest.raises(OperationFailure) as refused:
                client.get_default_database()["staff"].find_one()
            assert refused.value.code in (13, 18)  # Unauthorized, AuthenticationFailed
            with pytest.raises(OperationFailure):
                client.get_default_database()["staff"].insert_one({"username": "intruder"})
        finally:
            client.close()
    with MongoClient(database_uri) as allowed:
        assert allowed.get_default_database()["staff"].find_one({"username": "intruder"}) is None


@embedded_only
def test_the_embedded_databases_files_are_the_apps_users_only(mongo_server, repository):
    repository.staff.insert_one({"username": "x"})
    folder = _data_dir(mongo_server)
    assert mode(folder) == 0o700
    files = [p for p in folder.iterdir() if p.is_file()]
    assert files and all(mode(p) & 0o077 == 0 for p in files), [(p.name, oct(mode(p))) for p in files]


def _data_dir(mongo_server) -> Path:
    port = parse_uri(mongo_server)["nodelist"][0][1]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"bot.embedded_db" in cmdline and str(port).encode() in cmdline:
                return Path(cmdline[cmdline.index(b"--data-dir") + 1].decode())
    raise AssertionError("no embedded database process")


def test_make_run_starts_the_database_with_a_password_file_never_on_its_command_line(tmp_path):
    settings = Settings.from_env({"VAR_DIR": str(tmp_path / "var")})
    command = dict(services(settings))["database"]
    password = settings.embedded_db_password()
    assert f"--password-file {tmp_path / 'var' / 'db_password'}" in command and password not in command
    assert mode(tmp_path / "var" / "db_password") == 0o600 and mode(tmp_path / "var") == 0o700
    assert settings.database_uri.startswith("mongodb://tongdai:") and "authMechanism=SCRAM-SHA-256" in settings.database_uri
    # A real MongoDB's URI is taken as written.
    assert Settings.from_env({"MONGODB_URI": "mongodb://u:p@db1/tongdai1022"}).database_uri == "mongodb://u:p@db1/tongdai1022"


def test_var_dir_made_earlier_with_looser_rights_is_tightened_at_start(settings, tmp_path):
    var = tmp_path / "old-var"
    (var / "media" / "ab").mkdir(parents=True)
    photo = var / "media" / "ab" / "abcdef"
    photo.write_bytes(b"a citizen's photo")
    for path, rights in ((var, 0o755), (var / "media", 0o755), (var / "media" / "ab", 0o755), (photo, 0o644)):
        path.chmod(rights)
    env = {**os.environ, "MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(var),
           "ADMIN_PASSWORD": ""}
    done = subprocess.run([sys.executable, "-m", "bot.run", "--prepare"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [mode(p) for p in (var, var / "media", var / "media" / "ab")] == [0o700] * 3
    assert mode(photo) == 0o600 and mode(var / "secret_key") == 0o600 and mode(var / "metrics") == 0o700


def test_zalo_tokens_are_stored_encrypted_and_still_work(app, repository, fake_zalo):
    channel = app.extensions["channels"]["zalo"]
    assert channel.send_text("246845883529197922", "Xin chào").ok
    stored = repository.tokens.find_one({"_id": "zalo"})
    assert is_sealed(stored["access_token"]) and is_sealed(stored["refresh_token"])
    assert FakeZalo.ACCESS_TOKEN not in str(stored) and FakeZalo.REFRESH_TOKEN not in str(stored)
    assert fake_zalo.texts_to("246845883529197922") == ["Xin chào"]  # the fake refuses any other token (-216)


def test_tokens_stored_in_the_clear_by_an_earlier_version_are_encrypted_at_first_use(app, repository, fake_zalo):
    repository.tokens.insert_one({"_id": "zalo", "access_token": FakeZalo.ACCESS_TOKEN,
                                  "refresh_token": FakeZalo.REFRESH_TOKEN, "expires_ts": None, "lease_until": 0.0})
    assert app.extensions["channels"]["zalo"].send_text("246845883529197922", "Xin chào").ok
    stored = repository.tokens.find_one({"_id": "zalo"})
    assert is_sealed(stored["access_token"]) and is_sealed(stored["refresh_token"])


def test_tokens_sealed_with_another_key_are_reported_not_sent(app, settings, repository):
    from bot.token_cipher import TokenCipher
    other = TokenCipher("another-secret-key-entirely")
    repository.tokens.insert_one({"_id": "zalo", "access_token": other.seal("x" * 40), "refresh_token": other.seal("y" * 40),
                                  "expires_ts": None, "lease_until": 0.0})
    assert app.test_client().get("/healthz").get_json()["channels"]["zalo"] == "token_unreadable"
