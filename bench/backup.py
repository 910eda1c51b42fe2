"""`make backup` and `make restore` with a year's worth of data: 10,000 cases and 100,000 messages
(bench/console.py's seed) and 100 photos of 100 KB in the embedded database's VAR_DIR. The backup
is taken while a writer inserts into the live database, whose insert times are compared with
those of the same writer with no backup running."""
from __future__ import annotations

import io
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.console import seed
from bot.config import REPO_ROOT, Settings
from bot.media import MediaStore
from bot.repository import Repository
from tests.conftest import free_port
from tests.filling import start_database, stop_database

PHOTOS, PHOTO_BYTES = 100, 100_000


def noise_jpeg(size: int) -> bytes:
    """A real JPEG of about `size` bytes that does not compress (the media store keeps photos only)."""
    from PIL import Image
    side = int((size / 0.9) ** 0.5 / 1.2)
    data = os.urandom(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), data).save(out, "JPEG", quality=95)
    return out.getvalue()


def make(target: str, env: dict, *args: str) -> float:
    started = time.monotonic()
    subprocess.run(["make", "--no-print-directory", target, *args], cwd=REPO_ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


class Writer:
    """Inserts one small document after another, timing each (milliseconds)."""

    def __init__(self, repository: Repository):
        self.collection = repository.db["bench_writes"]
        self.times: list[float] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            self.collection.insert_one({"at": time.time()})
            self.times.append((time.perf_counter() - started) * 1000)

    def during(self, action) -> tuple[float, list[float]]:
        self.times, self.stopping = [], threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        try:
            result = action()
        finally:
            self.stopping.set()
            self.thread.join()
        return result, self.times


def figures(times: list[float]) -> str:
    ordered = sorted(times)
    return (f"{len(times)} inserts, p50 {statistics.median(ordered):.1f} ms, "
            f"p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms, max {ordered[-1]:.1f} ms")


def run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "BACKUP_DIR", "BACKUP_KEEP")}
        env.update(VAR_DIR=f"{folder}/var", EMBEDDED_DB_PORT=str(free_port()))
        settings = Settings.from_env(env)
        database = start_database(settings)
        try:
            repository = Repository(settings.database_uri)
            repository.wait_until_ready(60)
            seed(repository)
            store = MediaStore(settings.var_dir / "media", repository)
            for n in range(PHOTOS):
                store.store_image(noise_jpeg(PHOTO_BYTES))
            size = sum(p.stat().st_size for p in (settings.var_dir / "db").iterdir())
            print(f"backup: database files {size / 1e6:.1f} MB, media {PHOTOS} files of {PHOTO_BYTES // 1000} KB")
            writer = Writer(repository)
            waited = threading.Event()
            _, idle = writer.during(lambda: waited.wait(5))
            took, busy = writer.during(lambda: make("backup", env))
            [archive] = list(settings.backup_dir.iterdir())
            print(f"  make backup, database running: {took:.1f} s, archive {archive.stat().st_size / 1e6:.1f} MB")
            print(f"  a writer's inserts meanwhile: {figures(busy)}")
            print(f"  the same writer, no backup:   {figures(idle)}")
            repository.close()
        finally:
            stop_database(database)
        for part in ("db", "media"):
            os.rename(settings.var_dir / part, Path(folder) / f"old-{part}")
        took = make("restore", env, f"FILE={archive}")
        print(f"  make restore (checks, then moves into place): {took:.1f} s")
