"""Passwords: at least 12 characters, not the username, not a common one, not the current one;
ADMIN_PASSWORD is held to the same rule; the generated first-admin password goes to a file only
its owner reads, is never printed, and must be changed at the first sign-in."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from bot.app import create_app
from bot.config import REPO_ROOT, Settings
from bot.console.access import WeakAdminPassword
from bot.console.password_policy import problem
from tests.console.conftest import PASSWORD, csrf_token, sign_in


def signed_in(app, username="dtv1", password=PASSWORD):
    client = app.test_client()
    assert sign_in(client, username, password).status_code == 302
    return client


def post_form(client, page_url, url, data):
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


@pytest.mark.parametrize("weak", ["a", "aaaaaaaaaa", "aaaaaaaaaaaa", "123456789012", "Matkhau@123456",
                                  "P@ssw0rd2024!", "qwertyuiop12", "anhyeuem1990!!", "Tongdai1022@2026"])
def test_weak_passwords_are_refused(weak):
    assert problem(weak, "ldtbxh_ck")


@pytest.mark.parametrize("good", ["con mèo trèo cây cau", "xK9#mQ2$vL7p", "mot-mat-khau-du-dai", "Bến Tre 2026 mưa to"])
def test_long_uncommon_passwords_and_phrases_are_taken(good):
    assert problem(good, "ldtbxh_ck") is None


def test_a_password_made_of_the_username_is_refused():
    assert "tên đăng nhập" in problem("ldtbxh_ck-2026-xyz", "ldtbxh_ck")


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "mat-khau-1", "ldtbxh_ck_2026", "Matkhau@123456"])
def test_an_admin_cannot_create_an_account_with_a_weak_password(app, staff, password):
    admin = signed_in(app, "quantri")
    answer = post_form(admin, "/console/admin/staff", "/console/admin/staff", {
        "username": "ldtbxh_ck", "name": "Phòng LĐ-TB&XH Cầu Kè", "password": password, "role": "agency",
        "agency": "ldtbxh_cau_ke"})
    assert answer.status_code == 200 and staff.find_staff("ldtbxh_ck") is None


def test_an_admin_cannot_reset_a_password_to_a_weak_one_or_the_same(app, staff):
    admin = signed_in(app, "quantri")
    before = staff.find_staff("dtv2")["password_hash"]
    for password in ("aaaaaaaaaa", PASSWORD):
        post_form(admin, "/console/admin/staff", "/console/admin/staff/dtv2",
                  {"dtv2-role": "operator", "dtv2-active": "y", "dtv2-password": password})
        assert staff.find_staff("dtv2")["password_hash"] == before


@pytest.mark.parametrize("new, says", [("ngan-qua", "12 ký tự"), ("dtv1-mat-khau-x", "tên đăng nhập"),
                                       ("Matkhau@123456", "phổ biến"), (PASSWORD, "khác mật khẩu hiện tại")])
def test_a_staff_member_cannot_choose_a_weak_or_the_same_password(app, staff, new, says):
    operator = signed_in(app)
    answer = post_form(operator, "/console/account", "/console/account", {"current": PASSWORD, "new": new, "again": new})
    assert answer.status_code == 200 and says in answer.get_data(as_text=True)
    assert sign_in(app.test_client(), "dtv1").status_code == 302  # unchanged


def test_a_weak_admin_password_is_refused_at_start(settings, repository, tmp_path):
    repository.staff.delete_many({})
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(tmp_path / "var"),
           "ADMIN_PASSWORD": "aaaaaaaaaa"}
    with pytest.raises(WeakAdminPassword):
        create_app(Settings.from_env(env))
    assert repository.count_staff() == 0
    # make run / the systemd prepare unit refuse before starting anything (EX_CONFIG: not restarted)
    done = subprocess.run([sys.executable, "-m", "bot.run", "--prepare"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})
    assert done.returncode == 78 and "ADMIN_PASSWORD" in done.stderr and "12 ký tự" in done.stderr
    assert repository.count_staff() == 0


def test_the_generated_first_admin_password_is_never_printed_and_must_be_changed(settings, repository, capsys):
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir)}
    repository.staff.delete_many({})
    app = create_app(Settings.from_env(env))
    try:
        path = settings.var_dir / "first-admin-password"
        username, password = path.read_text().split()
        printed = capsys.readouterr().out
        assert password not in printed and str(path) in printed
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        admin = signed_in(app, username, password)
        for page in ("/console/", "/console/cases", "/console/admin/staff"):
            answer = admin.get(page)
            assert answer.status_code == 302 and answer.headers["Location"] == "/console/account", page
        answer = post_form(admin, "/console/account", "/console/account",
                           {"current": password, "new": "quan-tri-tong-dai-moi", "again": "quan-tri-tong-dai-moi"})
        assert answer.status_code == 302
        assert admin.get("/console/admin/staff").status_code == 200
        assert not path.exists()  # the file goes with the password it held
        assert sign_in(app.test_client(), username, password).status_code == 401
    finally:
        app.extensions["repository"].close()


def test_a_password_an_admin_sets_must_be_changed_by_its_owner_at_the_first_sign_in(app, staff):
    admin = signed_in(app, "quantri")
    assert post_form(admin, "/console/admin/staff", "/console/admin/staff", {
        "username": "ldtbxh_ck", "name": "Phòng LĐ-TB&XH Cầu Kè", "password": "giao-tam-cho-phong-ck",
        "role": "agency", "agency": "ldtbxh_cau_ke"}).status_code == 302
    post_form(admin, "/console/admin/staff", "/console/admin/staff/dtv2",
              {"dtv2-role": "operator", "dtv2-active": "y", "dtv2-password": "cap-lai-cho-ban-nhe"})
    for username, given in (("ldtbxh_ck", "giao-tam-cho-phong-ck"), ("dtv2", "cap-lai-cho-ban-nhe")):
        person = signed_in(app, username, given)
        answer = person.get("/console/cases")
        assert answer.status_code == 302 and answer.headers["Location"] == "/console/account", username
        assert post_form(person, "/console/account", "/console/account",
                         {"current": given, "new": "chi-minh-toi-biet-thoi", "again": "chi-minh-toi-biet-thoi"}
                         ).status_code == 302
        assert person.get("/console/cases").status_code == 200, username
    assert staff.find_staff("quantri").get("must_change_password") != "yes"
