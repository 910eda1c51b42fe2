"""`make run`'s supervisor: runs each service in its own process group with its output prefixed
by the time and its name, restarts a service that exits, and stops them all on Ctrl-C or SIGTERM.

A service that keeps dying is restarted after 1, 2, 4 ... 30 s: each exit within a minute of its
start doubles the wait, a run longer than that starts over at 1 s. Exit status 78 (EX_CONFIG,
e.g. a database newer than the code) is not worth retrying: everything stops with that status.
honcho, used before, stopped every service when one exited: one crash took the hotline down."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TextIO

from bot.logs import JsonFormatter

REFUSED = 78            # a service that must not be restarted (sysexits' EX_CONFIG)
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STABLE_SECONDS = 60.0   # a service that ran this long is healthy again: back to the first delay
STOP_GRACE = 10.0       # SIGTERM, then SIGKILL after this long
LAST = ("database",)    # stopped after the others, so that they can finish their writes

log = logging.getLogger("tongdai.run")


def backoff(failures: int) -> float:
    return min(FIRST_DELAY * 2 ** max(0, failures - 1), MAX_DELAY)


@dataclass
class Service:
    name: str
    command: str  # a shell command line starting with `exec`: the service's pid is its own process
    process: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0  # exits in a row within STABLE_SECONDS of starting
    restarts: int = 0
    restart_at: float | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Printer:
    """One line at a time from every service, as `12:00:00 web      | …`."""

    def __init__(self, out: TextIO):
        self.out = out
        self.lock = threading.Lock()
        self.width = 8

    def line(self, name: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {text}\n")
            self.out.flush()


class _PrinterHandler(logging.Handler):
    def __init__(self, printer: Printer):
        super().__init__()
        self.printer = printer
        self.setFormatter(JsonFormatter("run"))

    def emit(self, record: logging.LogRecord) -> None:
        self.printer.line("run", self.format(record))


class Supervisor:
    def __init__(self, env: dict, cwd: str, out: TextIO | None = None):
        self.env = env
        self.cwd = cwd
        self.printer = Printer(out or sys.stdout)
        self.services: dict[str, Service] = {}
        self.stopping = threading.Event()
        self.signal: str | None = None
        self.exit_status = 0
        ours = logging.getLogger("tongdai")  # the supervisor's lines, and the migrations it runs
        ours.addHandler(_PrinterHandler(self.printer))
        ours.setLevel(logging.INFO)
        ours.propagate = False

    def handle_signals(self) -> None:
        def stop(signum, _frame):  # only a flag here: the main thread may be holding the printer's lock
            self.signal = signal.Signals(signum).name
            self.stopping.set()
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def start(self, name: str, command: str) -> None:
        service = self.services.setdefault(name, Service(name, command))
        self.printer.width = max(self.printer.width, len(name))
        self._spawn(service)

    def _spawn(self, service: Service) -> None:
        service.process = subprocess.Popen(
            ["/bin/sh", "-c", service.command], cwd=self.cwd, env=self.env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        service.started = time.monotonic()
        service.restart_at = None
        service.reader = threading.Thread(target=self._copy_output, args=(service.name, service.process.stdout),
                                          daemon=True)
        service.reader.start()
        log.info("%s started", service.name, extra={"child": service.name, "child_pid": service.process.pid,
                                                     "restarts": service.restarts})

    def _copy_output(self, name: str, stream) -> None:
        for raw in stream:
            self.printer.line(name, raw.decode(errors="replace").rstrip("\n"))

    def run_while(self, task: Callable[[], object]) -> object:
        """Supervise (restart what dies) while `task` runs in a thread; return its result or
        raise its exception. Returns None at once if a stop is requested meanwhile."""
        outcome: dict = {}
        done = threading.Event()

        def run():
            try:
                outcome["result"] = task()
            except BaseException as exc:  # handed to the main thread
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, daemon=True).start()
        while not done.is_set() and not self.stopping.is_set():
            self._tend()
            done.wait(0.2)
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")

    def run_forever(self) -> int:
        """Supervise until Ctrl-C, SIGTERM or a refusal; then stop everything. Returns the exit status."""
        while not self.stopping.is_set():
            self._tend()
            self.stopping.wait(0.2)
        self.stop()
        return self.exit_status

    def _tend(self) -> None:
        now = time.monotonic()
        for service in self.services.values():
            if service.restart_at is not None:
                if now >= service.restart_at and not self.stopping.is_set():
                    service.restarts += 1
                    self._spawn(service)
                continue
            code = service.process.poll() if service.process else None
            if code is None:
                continue
            self._kill_group(service.process.pid, signal.SIGKILL)  # what it left behind (gunicorn's workers)
            service.reader.join(timeout=2)
            ran = now - service.started
            if code == REFUSED:
                log.error("%s refused to start (exit status %d, its reason is above): stopping everything",
                          service.name, code, extra={"child": service.name, "exit_status": code})
                self.exit_status = REFUSED
                self.stopping.set()
                return
            service.failures = 1 if ran >= STABLE_SECONDS else service.failures + 1
            delay = backoff(service.failures)
            service.restart_at = now + delay
            log.warning("%s exited with status %s after %.1f s: restarting in %.0f s", service.name, code, ran, delay,
                        extra={"child": service.name, "exit_status": code, "ran_seconds": round(ran, 1),
                               "restart_in_seconds": delay})

    def stop(self) -> None:
        """SIGTERM to every service (the database last), SIGKILL to what is left after STOP_GRACE."""
        self.stopping.set()
        log.info("stopping every service%s", f" ({self.signal})" if self.signal else "")
        first = [s for s in self.services.values() if s.name not in LAST]
        last = [s for s in self.services.values() if s.name in LAST]
        for group in (first, last):
            running = [s.process for s in group if s.process and s.process.poll() is None]
            for process in running:
                self._kill_group(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for process in running:
                try:
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("pid %d did not stop within %.0f s: killed", process.pid, STOP_GRACE)
            for process in (s.process for s in group if s.process):
                self._kill_group(process.pid, signal.SIGKILL)
                process.wait()
        for service in self.services.values():
            if service.reader:
                service.reader.join(timeout=2)
        log.info("every service stopped")

    @staticmethod
    def _kill_group(pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
