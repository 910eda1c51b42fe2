"""Console fixtures: staff accounts of each role, and a test client signed in as one of them."""
from __future__ import annotations

import functools
import re

import pytest

from bot.console.access import passwords

PASSWORD = "mat-khau-dai-du-10"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


@functools.cache
def password_hash() -> str:
    """PASSWORD's Argon2id hash, made once a run: an Argon2 hash at 64 MiB takes 0.15–0.25 s, and a
    fixture that hashed it for each of its accounts spent a second of every console test on it.
    Signing in still checks the password against it for real."""
    return passwords.hash(PASSWORD)


@pytest.fixture
def staff(repository):
    """One account per role; the agency account belongs to Càng Long's People's Committee."""
    for username, role, agency in (("dtv1", "operator", None), ("dtv2", "operator", None),
                                   ("ubnd_cl", "agency", "ubnd_cang_long"), ("quantri", "admin", None)):
        repository.create_staff(username=username, password_hash=password_hash(), role=role,
                                agency=agency, name=f"Cán bộ {username}")
    return repository


def sign_in(client, username: str, password: str = PASSWORD):
    page = client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                                "csrf_token": csrf_token(page.get_data(as_text=True))})


@pytest.fixture
def operator(app, staff):
    client = app.test_client()
    assert sign_in(client, "dtv1").status_code == 302
    return client
