"""What a console page takes from its query string. Every console request passes `check_query`
first, so a page added later inherits the bounds: a page number the database can skip to, no
control characters (a CR/LF in `next` once became a 500), and no parameter named like url_for's
own options (`_scheme`, `_external`, … copied from the query into url_for gave 500s)."""
from __future__ import annotations

import re

from flask import abort, request, url_for

MAX_PAGE = 100_000  # 50 a page: five million rows, more than any list here holds
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_query() -> None:
    for name, value in request.args.items(multi=True):
        if name.startswith("_") or CONTROL.search(name) or CONTROL.search(value):
            abort(400)
    if "page" in request.args and page() is None:
        abort(400)


def page() -> int | None:
    """?page=N, 1 when absent; None when it is no page number."""
    value = request.args.get("page", "1").strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        return None
    return int(value)


def query(**changes) -> dict:
    """This request's query parameters with `changes` applied: for the links of a list's pages."""
    kept = {name: value for name, value in request.args.items() if not name.startswith("_")}
    return {**kept, **{name: value for name, value in changes.items()}}


def page_url(number: int) -> str:
    """The same list, page `number`."""
    return url_for(request.endpoint, **{**query(page=number), **(request.view_args or {})})


def safe_next(target: str | None) -> str | None:
    """A page of this console to go to after signing in, or None: never another site ("//evil",
    "/console/\\evil", an absolute URL) and never a header-splitting CR/LF."""
    if not target or not target.startswith("/console/") or "//" in target or "\\" in target \
            or CONTROL.search(target) or len(target) > 2000:
        return None
    return target
