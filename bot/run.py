"""`make run`: start the database (embedded, unless MONGODB_URI is set), the NLU server
(unless NLU_URL is set), the web app (waitress, or gunicorn when WEB_PROCESSES > 1) and
WORKERS workers; Ctrl-C stops them all.

honcho runs each service in its own process group and, on Ctrl-C or when any service exits,
stops every one of them: nothing of ours outlives the command."""
from __future__ import annotations

import os
import shlex
import shutil
import sys

from honcho.manager import Manager

from bot.config import REPO_ROOT, Settings, load_env_file

APP_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"


def services(settings: Settings) -> list[tuple[str, str]]:
    found = []
    if not settings.mongodb_uri:
        var = settings.var_dir
        found.append(("database", f"exec {APP_PYTHON} -m bot.embedded_db --port {settings.embedded_db_port}"
                                  f" --data-dir {var / 'db'} --pid-file {var / 'db.pid'}"
                                  f" --log-file {var / 'db.log'}"))
    if not settings.nlu_url:
        found.append(("nlu", f"exec {NLU_PYTHON} -m nlu serve --host 127.0.0.1 --port {settings.nlu_port}"))
    found.append(("web", web_command(settings)))
    for n in range(1, settings.workers + 1):
        found.append((f"worker{n}" if settings.workers > 1 else "worker", f"exec {APP_PYTHON} -m bot.worker"))
    return found


def web_command(settings: Settings) -> str:
    """waitress in one process, or gunicorn with WEB_PROCESSES processes on the same port."""
    if settings.web_processes == 1:
        return f"exec {APP_PYTHON} -m bot.web"
    return (f"exec {APP_PYTHON} -m gunicorn -c {shlex.quote(str(REPO_ROOT / 'bot' / 'gunicorn_conf.py'))}"
            f" -w {settings.web_processes} -b {shlex.quote(_bind_address(settings))} 'bot.app:create_app()'")


def _bind_address(settings: Settings) -> str:
    return f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"


def main() -> None:
    load_env_file()
    settings = Settings.from_env()
    settings.secret_key()  # generate it once here, not in two services at the same time
    # The web process reports the worker's counters too (prometheus-client's multiprocess mode);
    # the folder is emptied at each start, as that mode requires.
    metrics_dir = settings.var_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env = dict(os.environ, MONGODB_URI=settings.database_uri, NLU_URL=settings.nlu_base_url,
               PYTHONUNBUFFERED="1", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    manager = Manager()
    for name, command in services(settings):
        manager.add_process(name, command, env=env, cwd=str(REPO_ROOT))
    print(f"Tổng đài 1022 starting at http://{settings.host}:{settings.port}/ "
          "(Ctrl-C stops everything)", flush=True)
    manager.loop()
    sys.exit(manager.returncode)


if __name__ == "__main__":
    main()
