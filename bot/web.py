"""The web process: serves `create_app()` with waitress (multi-threaded, production-grade)."""
from __future__ import annotations

import logging
import sys

from waitress import serve

from bot import logs
from bot.app import MAX_BODY_BYTES, create_app
from bot.config import Settings, load_env_file
from bot.console.access import WeakAdminPassword
from bot.migrations import SchemaTooNew
from bot.supervisor import REFUSED

# waitress reads a whole request body before the app sees it: it must refuse an oversized one
# itself (413 as soon as a Content-Length or a chunked stream passes the limit), not buffer 1 GB.
# waitress also deletes X-Forwarded-For from every request unless told which proxy to trust: the app
# reads it itself, only with TRUST_PROXY (bot/addresses.py). Without this, behind nginx every
# citizen and staff member was nginx's 127.0.0.1 to the per-address limits.
SERVER_OPTIONS = {"threads": 8, "ident": "tongdai1022", "max_request_body_size": MAX_BODY_BYTES,
                  "clear_untrusted_proxy_headers": False}


def main() -> None:
    load_env_file()
    logs.setup("web")
    settings = Settings.from_env()
    try:
        app = create_app(settings)
    except (SchemaTooNew, WeakAdminPassword) as exc:
        logging.getLogger("tongdai.web").error("not starting: %s", exc)
        sys.exit(REFUSED)
    print(f"Tổng đài 1022 is ready: http://{settings.host}:{settings.port}/", flush=True)
    serve(app, host=settings.host, port=settings.port, **SERVER_OPTIONS)


if __name__ == "__main__":
    main()
