"""Staff sessions end on the server's side: a copied cookie stops working at sign-out, at a new
password, a new role or an unlock; a session ends after its lifetime and when idle; the console
and the web chat keep separate cookies; signing in starts from an empty session."""
from __future__ import annotations

import pytest

from bot.app import create_app
from bot.config import Settings
from tests.conftest import wait_until
from tests.console.conftest import PASSWORD, csrf_token, sign_in
from webhooks.web import CITIZEN_COOKIE

CONSOLE_COOKIE = "tongdai_console"


def signed_in(app, username="dtv1"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def copy_of(app, client):
    """Another browser holding the same cookie (stolen, or the same person's second device)."""
    thief = app.test_client()
    thief.set_cookie(CONSOLE_COOKIE, client.get_cookie(CONSOLE_COOKIE, path="/console").value, path="/console")
    return thief


def works(client) -> bool:
    return client.get("/console/cases").status_code == 200


def post_form(client, page_url, url, data):
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def test_a_copied_cookie_dies_at_sign_out(app, staff):
    operator = signed_in(app)
    thief = copy_of(app, operator)
    assert works(thief)
    post_form(operator, "/console/cases", "/console/logout", {})
    assert not works(operator) and not works(thief)
    assert works(signed_in(app))  # signing in again works


def test_a_new_password_ends_every_other_session_and_keeps_this_one(app, staff):
    operator = signed_in(app)
    other_device = signed_in(app)
    thief = copy_of(app, operator)
    answer = post_form(operator, "/console/account", "/console/account",
                       {"current": PASSWORD, "new": "mat-khau-moi-rat-dai", "again": "mat-khau-moi-rat-dai"})
    assert answer.status_code == 302
    assert works(operator)
    assert not works(other_device) and not works(thief)


@pytest.mark.parametrize("change", [{"dtv2-role": "admin"}, {"dtv2-password": "mat-khau-quan-tri-dat"},
                                    {"dtv2-unlock": "y"}, {}])
def test_an_admins_change_of_access_ends_the_accounts_sessions(app, staff, change):
    colleague = signed_in(app, "dtv2")
    admin = signed_in(app, "quantri")
    form = {"dtv2-role": "operator", "dtv2-active": "y", **change}
    if not change:  # closed
        del form["dtv2-active"]
    assert post_form(admin, "/console/admin/staff", "/console/admin/staff/dtv2", form).status_code == 302
    assert not works(colleague)


def test_a_change_of_name_keeps_the_session(app, staff):
    colleague = signed_in(app, "dtv2")
    admin = signed_in(app, "quantri")
    post_form(admin, "/console/admin/staff", "/console/admin/staff/dtv2",
              {"dtv2-role": "operator", "dtv2-active": "y", "dtv2-name": "Nguyễn Thị Hai"})
    assert works(colleague)


def test_signing_in_starts_from_an_empty_session(app, staff):
    client = app.test_client()
    with client.session_transaction("/console/") as session:
        session["_user_id"] = "quantri"  # an identity the server never started a session for
    assert client.get("/console/cases").status_code == 302  # signed in as nobody, and forgotten
    client.get("/console/login")
    with client.session_transaction("/console/") as session:
        assert "_user_id" not in session
        session["planted"] = "by someone before the staff member sat down"
    assert sign_in(client, "dtv1").status_code == 302
    with client.session_transaction("/console/") as session:
        assert "planted" not in session and session["_user_id"] == "dtv1"


def test_the_console_and_the_web_chat_have_cookies_of_their_own(app, staff):
    browser = signed_in(app)
    browser.get("/")
    assert browser.post("/chat/messages", json={"text": "Xin chào", "id": "cookie-test-01"}).status_code == 202
    console = browser.get_cookie(CONSOLE_COOKIE, path="/console")
    chat = browser.get_cookie(CITIZEN_COOKIE)
    assert console is not None and chat is not None and console.value != chat.value
    assert browser.get_cookie("session") is None
    # The chat's cookie lasts 30 days; the staff cookie ends with the browser (and on the server).
    assert chat.expires is not None and console.expires is None
    assert console.http_only and console.same_site == "Lax"
    assert works(browser)


def test_cookies_are_secure_outside_local_development(settings):
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir),
           "TRUST_PROXY": "1"}
    app = create_app(Settings.from_env(env))
    try:
        answer = app.test_client().get("/", base_url="https://1022.example.gov.vn")
        assert "Secure" in answer.headers["Set-Cookie"]
        assert app.config["SESSION_COOKIE_SECURE"]
    finally:
        app.extensions["repository"].close()
    assert not Settings.from_env({}).secure_cookies  # make run on this machine: plain http on loopback


def app_with(settings, **env):
    base = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir)}
    app = create_app(Settings.from_env({**base, **env}))
    app.config["TESTING"] = True
    return app


def test_an_idle_session_ends_and_the_pages_own_polling_does_not_keep_it(settings, staff):
    app = app_with(settings, CONSOLE_IDLE_MINUTES="0.05")  # 3 seconds
    try:
        operator = signed_in(app)
        poll = {"X-Console-Poll": "1"}
        assert operator.get("/console/live", headers=poll).status_code == 200
        wait_until(lambda: operator.get("/console/live", headers=poll).status_code == 302, 15,
                   "the idle session to end while only the page polls")
        assert not works(operator)
    finally:
        app.extensions["repository"].close()


def test_a_person_using_the_page_keeps_it_until_the_sessions_lifetime(settings, staff):
    app = app_with(settings, CONSOLE_IDLE_MINUTES="0.05", CONSOLE_SESSION_HOURS="0.002")  # 3 s idle, 7.2 s in all
    try:
        operator = signed_in(app)
        active = {"X-Console-Poll": "1", "X-Console-Active": "1"}
        used = []

        def ended():
            used.append(1)
            return operator.get("/console/live", headers=active).status_code == 302

        wait_until(ended, 20, "the session's lifetime to end it", interval=0.5)
        assert len(used) > 12  # it lived past the idle limit (3 s) thanks to the person's activity
    finally:
        app.extensions["repository"].close()
