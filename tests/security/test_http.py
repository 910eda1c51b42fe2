"""Every response's security headers, who may read /metrics and /healthz's details, and the
console's query strings: page numbers, dates, url_for's own options and CR/LF in `next` answer
400 or a message, never a 500."""
from __future__ import annotations

import pytest

from tests.conftest import load_fixture, post_zalo
from tests.console.conftest import PASSWORD, csrf_token, sign_in

OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # a documentation address: the internet, not us


def signed_in(app, username="dtv1"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


# ---- headers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/chat/messages", "/console/login", "/healthz", "/webhooks/zalo"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self': no inline script
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_the_apps_own_scripts_may_be_cached(client):
    assert "no-store" not in client.get("/static/chat/chat.js").headers.get("Cache-Control", "")


# ---- /metrics and /healthz ----------------------------------------------------------------------

def test_metrics_only_for_allowed_addresses_or_the_token(settings, client):
    from bot.app import create_app
    from bot.config import Settings
    assert client.get("/metrics").status_code == 200  # loopback: make run, a local Prometheus
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir),
           "METRICS_TOKEN": "prometheus-token-for-tests", "METRICS_ALLOW": "10.9.0.0/16"}
    app = create_app(Settings.from_env(env))
    try:
        outside = app.test_client()
        assert outside.get("/metrics", environ_base=OUTSIDE).status_code == 403
        assert outside.get("/metrics", environ_base=OUTSIDE,
                           headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert outside.get("/metrics", environ_base=OUTSIDE,
                           headers={"Authorization": "Bearer prometheus-token-for-tests"}).status_code == 200
        assert outside.get("/metrics", environ_base={"REMOTE_ADDR": "10.9.3.4"}).status_code == 200
        assert outside.get("/metrics").status_code == 403  # loopback is no longer listed
    finally:
        app.extensions["repository"].close()


def test_healthz_tells_anyone_the_verdict_and_only_us_the_details(client):
    mine = client.get("/healthz")
    theirs = client.get("/healthz", environ_base=OUTSIDE)
    assert mine.status_code == theirs.status_code == 200
    assert mine.get_json()["database"] == "ok" and "channels" in mine.get_json()
    assert theirs.get_json() == {"status": "ok"}


def test_behind_a_proxy_the_proxys_own_address_does_not_open_metrics(settings):
    from bot.app import create_app
    from bot.config import Settings
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir),
           "TRUST_PROXY": "1"}
    app = create_app(Settings.from_env(env))
    try:  # nginx on loopback forwards an outside request
        assert app.test_client().get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    finally:
        app.extensions["repository"].close()


# ---- the console's query strings ----------------------------------------------------------------

@pytest.mark.parametrize("query", ["page=99999999999999999999", "page=-3", "page=abc", "_scheme=javascript",
                                   "_external=1", "q=%0d%0aSet-Cookie:%20x=1"])
def test_a_query_no_page_sends_is_400_not_500(app, staff, query):
    operator = signed_in(app)
    for path in ("/console/cases", "/console/chats/all"):
        assert operator.get(f"{path}?{query}").status_code == 400, (path, query)
    assert signed_in(app, "quantri").get(f"/console/admin/audit?{query}").status_code == 400


def test_a_date_beyond_the_calendar_is_a_message_not_a_500(app, staff):
    operator = signed_in(app)
    for query in ("to=31/12/9999", "from=01/01/0001", "to=9999-12-31"):
        answer = operator.get(f"/console/cases?{query}")
        assert answer.status_code == 200 and "không hợp lệ" in answer.get_data(as_text=True)
        assert operator.get(f"/console/cases/export.csv?{query}").status_code == 302
    answer = signed_in(app, "quantri").get("/console/admin/audit?to=31/12/9999")
    assert answer.status_code == 200 and "không hợp lệ" in answer.get_data(as_text=True)


def test_the_pages_links_keep_the_filters_and_nothing_else(app, staff):
    from tests.console.test_console import file_report
    for _ in range(51):
        file_report(staff)
    page = signed_in(app).get("/console/cases?category=report&page=1").get_data(as_text=True)
    assert 'href="/console/cases?category=report&amp;page=2"' in page
    assert 'href="/console/cases/export.xlsx?category=report&amp;page=1"' in page


@pytest.mark.parametrize("target", ["/console/chats%0d%0aSet-Cookie:%20x=1", "//evil.example/console/",
                                    "/console/\\evil.example", "/console//evil.example", "https://evil.example/"])
def test_a_next_that_leaves_the_console_or_splits_headers_goes_home(app, staff, target):
    client = app.test_client()
    token = csrf_token(client.get("/console/login").get_data(as_text=True))
    answer = client.post(f"/console/login?next={target}", data={"username": "dtv1", "password": PASSWORD,
                                                                 "csrf_token": token})
    assert answer.status_code in (302, 400)
    if answer.status_code == 302:
        assert answer.headers["Location"] == "/console/chats"


def test_a_next_inside_the_console_is_followed(app, staff):
    client = app.test_client()
    token = csrf_token(client.get("/console/login").get_data(as_text=True))
    answer = client.post("/console/login?next=/console/cases?status=new", data={
        "username": "dtv1", "password": PASSWORD, "csrf_token": token})
    assert answer.headers["Location"] == "/console/cases?status=new"


# ---- a link a citizen sends ---------------------------------------------------------------------------

def test_a_javascript_attachment_link_is_never_a_link(app, client, staff, repository, worker):
    event = load_fixture("zalo", "user_send_link")
    event["message"]["attachments"][0]["payload"].update(url="javascript:alert(document.cookie)", thumbnail=None)
    assert post_zalo(client, event).status_code == 200
    worker.drain()
    user = event["sender"]["id"]
    page = signed_in(app).get(f"/console/chats/zalo/{user}").get_data(as_text=True)
    assert "[link" in page and "javascript:" not in page
