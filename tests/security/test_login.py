"""Signing in: guesses are slowed per username and address, per address and per username from
unknown addresses, never by a hard lock an attacker could hold on a real person; 40 guesses at once
get 5 password checks; a wrong password, an unknown account and a slowed-down one read the same for
every username; every failure, slow-down and unlock is logged and audited."""
from __future__ import annotations

import re
import threading

from prometheus_client import REGISTRY

from bot.console import signin, throttle
from tests.console.conftest import PASSWORD, csrf_token

ATTACKER = "203.0.113.66"


def checks() -> float:
    return REGISTRY.get_sample_value("tongdai_password_checks_total") or 0.0


def said(answer) -> str:
    """What the sign-in page says about the attempt."""
    return re.search(r'role="alert"[^>]*>([^<]+)<', answer.get_data(as_text=True)).group(1).strip()


def attempt(client, username, password, address="127.0.0.1"):
    environ = {"REMOTE_ADDR": address}
    page = client.get("/console/login", environ_base=environ)
    return client.post("/console/login", environ_base=environ, data={
        "username": username, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_forty_guesses_at_once_get_five_password_checks(app, staff):
    clients = [app.test_client() for _ in range(40)]
    tokens = [csrf_token(c.get("/console/login", environ_base={"REMOTE_ADDR": ATTACKER}).get_data(as_text=True))
              for c in clients]
    start, answers = threading.Barrier(40), []
    before = checks()

    def guess(client, token, n):
        start.wait()
        answers.append(client.post("/console/login", environ_base={"REMOTE_ADDR": ATTACKER}, data={
            "username": "quantri", "password": f"doan-thu-{n}", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=(c, t, n)) for n, (c, t) in enumerate(zip(clients, tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == 40 and set(answers) <= {401, 429, 503}
    assert checks() - before <= throttle.PAIR_FREE


def test_a_flood_from_many_addresses_is_told_to_wait_not_given_password_checks(app, staff, repository):
    """The flood that made Zalo's webhook wait ~2 s: every post from an address and for a username of
    its own, so no count slows any of them down. Password checks (64 MiB, ~0.15 s of a core each)
    still run one at a time with two waiting: the rest are answered 503 at once, before the
    database is asked anything (python -m bench login times the webhook meanwhile)."""
    flood = 40
    clients = [app.test_client() for _ in range(flood)]
    tokens = [csrf_token(c.get("/console/login", environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).get_data(as_text=True))
              for n, c in enumerate(clients)]
    start, answers = threading.Barrier(flood), []
    before, counted_before = checks(), repository.db["login_throttle"].count_documents({})

    def guess(client, token, n):
        start.wait()
        answers.append(client.post("/console/login", environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}, data={
            "username": f"nguoi-{n}", "password": f"doan-thu-{n}", "csrf_token": token}))

    threads = [threading.Thread(target=guess, args=(c, t, n)) for n, (c, t) in enumerate(zip(clients, tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = [a.status_code for a in answers]
    assert len(codes) == flood and set(codes) <= {401, 503}
    busy = [a for a in answers if a.status_code == 503]
    assert len(busy) >= flood // 2 and checks() - before == codes.count(401)
    assert all(a.headers["Retry-After"] == "2" and said(a) == signin.BUSY for a in busy)
    # Only the attempts that got a turn were counted (a pair, a network and an account key each).
    assert repository.db["login_throttle"].count_documents({}) - counted_before == 3 * codes.count(401)


def test_guesses_from_elsewhere_never_lock_the_admin_out_of_the_usual_desk(app, staff):
    assert attempt(app.test_client(), "quantri", PASSWORD).status_code == 302  # the admin's usual desk
    attacker = app.test_client()
    for n in range(60):  # one address, then many: a botnet rotating its addresses
        address = ATTACKER if n < 20 else f"198.51.100.{n}"
        assert attempt(attacker, "quantri", f"doan-thu-{n}", address).status_code in (401, 429)
    assert attempt(app.test_client(), "quantri", PASSWORD).status_code == 302
    # From an address it never signed in from, the admin waits like the attacker: the price of
    # slowing a spread-out guesser down.
    assert attempt(app.test_client(), "quantri", PASSWORD, "192.0.2.10").status_code == 429


def test_a_slow_down_is_a_back_off_not_a_lock(app, staff, repository):
    client = app.test_client()
    for n in range(throttle.PAIR_FREE):
        assert attempt(client, "dtv2", f"sai-{n}", ATTACKER).status_code == 401
    refused = attempt(client, "dtv2", PASSWORD, ATTACKER)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= throttle.BACKOFF_START
    assert throttle.backoff(throttle.PAIR_FREE, throttle.PAIR_FREE) == throttle.BACKOFF_START
    assert throttle.backoff(throttle.PAIR_FREE + 3, throttle.PAIR_FREE) == 8 * throttle.BACKOFF_START
    assert throttle.backoff(100, throttle.PAIR_FREE) == throttle.BACKOFF_CAP  # 15 minutes at most
    assert attempt(app.test_client(), "dtv2", PASSWORD).status_code == 302  # the owner, from elsewhere


def test_wrong_unknown_and_slowed_down_read_the_same_for_every_username(app, staff):
    client = app.test_client()
    before = checks()
    wrong = attempt(client, "dtv2", "sai-mat-khau", ATTACKER)
    unknown = attempt(client, "khong-co-ai", "sai-mat-khau", ATTACKER)
    assert checks() - before == 2  # an unknown account costs a check too: the same time
    assert wrong.status_code == unknown.status_code == 401
    assert said(wrong) == said(unknown) == "Tên đăng nhập hoặc mật khẩu không đúng."
    for n in range(throttle.PAIR_FREE):
        attempt(client, "dtv2", f"sai-{n}", "198.51.100.7")
        attempt(client, "khong-co-ai", f"sai-{n}", "198.51.100.7")
    before = checks()
    slowed = attempt(client, "dtv2", "sai", "198.51.100.7")
    slowed_unknown = attempt(client, "khong-co-ai", "sai", "198.51.100.7")
    assert checks() == before  # neither checks a password: the same (short) time
    assert slowed.status_code == slowed_unknown.status_code == 429
    assert re.sub(r"\d+", "N", said(slowed)) == re.sub(r"\d+", "N", said(slowed_unknown))
    assert "tạm khóa" in said(slowed)


def test_failures_slow_downs_and_unlocks_are_logged_and_audited(app, staff, repository, caplog):
    from tests.console.test_console import post_form, signed_in
    client = app.test_client()
    attempt(client, "khong-ton-tai-matkhau123", "x", ATTACKER)  # a password typed as a username
    for n in range(throttle.PAIR_FREE):
        attempt(client, "dtv2", f"sai-{n}", ATTACKER)
    admin = signed_in(app, "quantri")
    post_form(admin, "/console/admin/staff", "/console/admin/staff/dtv2",
              {"dtv2-role": "operator", "dtv2-active": "y", "dtv2-unlock": "y"})
    entries = repository.audit_entries()
    actions = [(e["action"], e["target"]) for e in entries]
    assert actions.count(("login.failed", "dtv2")) == throttle.PAIR_FREE
    assert ("login.failed", "(không rõ)") in actions
    assert ("login.throttled", "dtv2") in actions and ("login.unlock", "dtv2") in actions
    assert "khong-ton-tai-matkhau123" not in str(entries)  # a username with no account is never kept
    failed = next(e for e in entries if e["action"] == "login.failed")
    assert failed["after"]["address"] == ATTACKER
    logged = [r for r in caplog.records if r.name == "tongdai.console.login"]
    assert sum(r.getMessage() == "sign-in failed" for r in logged) == throttle.PAIR_FREE + 1
    assert any(r.getMessage() == "sign-in attempts slowed down" for r in logged)
    assert any(r.getMessage() == "sign-in unlocked" for r in logged)
    page = admin.get("/console/admin/audit?action=login.failed").get_data(as_text=True)
    assert "Đăng nhập sai" in page and ATTACKER in page
    assert attempt(client, "dtv2", PASSWORD, ATTACKER).status_code == 302  # unlocked


def test_password_checks_wait_for_a_free_slot_or_are_refused_at_once():
    slots = throttle.CheckSlots(concurrent=1, waiting=1, wait=5)
    assert slots.acquire()
    waiter = threading.Thread(target=lambda: slots.acquire() and slots.release())
    waiter.start()
    throttle_wait = threading.Event()
    throttle_wait.wait(0.2)  # the waiter is now queued (it cannot have finished: the slot is held)
    assert not slots.acquire()  # the slot busy and the queue full: refused without waiting
    slots.release()
    waiter.join(5)
    assert not waiter.is_alive() and slots.acquire()
