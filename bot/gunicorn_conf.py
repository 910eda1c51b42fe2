"""gunicorn settings for the web service when WEB_PROCESSES > 1 (`bot/run.py` passes -w and -b).

No preload: each process builds its own app after the fork (a MongoClient must not cross a fork),
so each creates the indexes and tries the first admin; the unique index on staff usernames lets
only one of them create it and write its password file.

Request bodies: gunicorn has no body-size limit of its own. The app refuses oversized bodies
before reading them (Flask's MAX_CONTENT_LENGTH, 11 MB; 1 MB on the webhooks), for a declared
length and for a chunked stream alike; in production the reverse proxy limits them first
(nginx `client_max_body_size 11m`)."""
from __future__ import annotations

import os

worker_class = "gthread"
threads = 8                # as waitress: a slow platform or database call does not hold the whole process
proc_name = "tongdai1022-web"
timeout = 60               # a worker stuck this long is replaced
graceful_timeout = 8       # bot/supervisor.py sends SIGKILL 10 s after SIGTERM: finish in-flight requests before that
keepalive = 5
limit_request_line = 8190  # gunicorn's defaults, said out loud: long URLs and header floods get 4xx
limit_request_fields = 100
# gunicorn 25+ opens a control socket at one fixed path in $HOME: two instances on a host would
# fight over it, and nothing here uses gunicornc.
control_socket_disable = True

# Our JSON lines for gunicorn's own messages too; its access log is off (the app logs one line per
# webhook request, and the web chat's polling would fill a per-request log).
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
    "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["correlation"],
                          "stream": "ext://sys.stderr"}},
    "formatters": {"json": {"()": "bot.logs.JsonFormatter", "service": "web"}},
    "filters": {"correlation": {"()": "bot.logs.CorrelationFilter"}},
}


def when_ready(server):
    host, port = server.address[0][:2] if server.address else ("127.0.0.1", "")
    print(f"Tổng đài 1022 is ready: http://{host}:{port}/ ({server.num_workers} web processes)", flush=True)


def child_exit(server, worker):
    # prometheus-client's multiprocess mode: a dead process's live gauges must not be summed any more
    # (its counters stay counted).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
