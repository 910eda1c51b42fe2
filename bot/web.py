"""The web process: serves `create_app()` with waitress (multi-threaded, production-grade)."""
from __future__ import annotations

import logging

from waitress import serve

from bot.app import create_app
from bot.config import Settings, load_env_file


def main() -> None:
    load_env_file()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    app = create_app(settings)
    print(f"Tổng đài 1022 is ready: http://{settings.host}:{settings.port}/", flush=True)
    serve(app, host=settings.host, port=settings.port, threads=8, ident="tongdai1022")


if __name__ == "__main__":
    main()
