"""NLU figures: parse time in-process and through the NLU server, server start-to-ready time,
training time. `make bench` calls run(); `.venv/bin/python -m bench.nlu --config FILE` measures a
candidate config instead of config.yml (trained into a temporary folder; var/models is left alone).

The in-process figures come from a child process in the Rasa environment
(`.venv-nlu/bin/python -m bench.nlu --in-process MODEL`), which loads the model once."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"
ROUNDS = 10
TEXTS = [
    "xin chào",
    "ok",
    "cảm ơn nhiều nha",
    "tv-8hk3ma sao rồi",
    "Tối qua ở khóm 3 phường 7 có đám nhậu hơn 20 người, không ai đeo khẩu trang",
    "co nguoi tu tphcm ve ap Cho xa Hieu Tu ma ko khai bao, cu di ra di vo cho",
    "Nhà tôi có 2 người mất việc vì dịch, xin hỏi có được hỗ trợ gì không",
    "e bi mat viec tu thang 7, nha co 3 dua nho, xin dc ho tro goi 68",
    "con toi bi sot 39 do va ho, spo2 96 thi co can di vien khong",
    "Tiêm mũi 2 xong bị sốt với đau tay, uống thuốc gì được ạ",
    "nen mo them diem ban hang luu dong o cho Cau Ngang cho ba con de mua",
    "Đề nghị chốt kiểm soát ở cầu Long Bình làm việc nhanh hơn, xe xếp hàng dài quá",
    "cho tôi gặp nhân viên tổng đài",
    "Xin chào tổng đài. Em là người dân xã Long Toàn, thị xã Duyên Hải. Em muốn phản ánh là nhà "
    "kế bên em có 2 người mới từ TP.HCM về hôm qua bằng xe máy, đi đường tắt không qua chốt, tới "
    "giờ chưa báo ấp cũng không khai báo y tế, sdt của em là 0912 345 678. Mong các anh xuống "
    "kiểm tra sớm.",
]
LONG = "phản ánh tụ tập đông người ở ấp Chợ " * 280  # ~10,000 characters


def percentiles(ms: list) -> str:
    ordered = sorted(ms)
    p = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return f"p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, mean {statistics.mean(ms):.2f} ms (n={len(ms)})"


# --- inside the Rasa environment --------------------------------------------------------------

def _in_process(model: str) -> None:
    started = time.monotonic()
    from nlu.cli import Parser, _quiet_rasa

    _quiet_rasa()
    parser = Parser(Path(model))
    load = time.monotonic() - started
    parser.parse("xin chào")
    ms = []
    for _ in range(ROUNDS):
        for text in TEXTS:
            t0 = time.perf_counter()
            parser.parse(text)
            ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    parser.parse(LONG)
    long_ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"load_s": load, "parse_ms": ms, "long_ms": long_ms}))


# --- from the app environment -----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except OSError:
        return 0


def measure_server(model: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    server = subprocess.Popen([str(NLU_PYTHON), "-m", "nlu", "serve", "--port", str(port),
                               "--model", str(model)], cwd=REPO_ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while _get(f"{url}/status") != 200:
            if server.poll() is not None or time.monotonic() - started > 120:
                raise SystemExit("the NLU server did not get ready")
            time.sleep(0.05)
        ready = time.monotonic() - started
        _get(f"{url}/model/parse", {"text": "xin chào"})
        ms = []
        for _ in range(ROUNDS):
            for text in TEXTS:
                t0 = time.perf_counter()
                assert _get(f"{url}/model/parse", {"text": text}) == 200
                ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        _get(f"{url}/model/parse", {"text": LONG})
        long_ms = (time.perf_counter() - t0) * 1000
        print(f"  NLU server: ready {ready:.1f} s after start; /model/parse {percentiles(ms)}; "
              f"10,000 characters {long_ms:.0f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def measure_in_process(model: Path) -> None:
    run = subprocess.run([str(NLU_PYTHON), "-m", "bench.nlu", "--in-process", str(model)],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"  in-process: load {figures['load_s']:.1f} s (imports included); parse "
          f"{percentiles(figures['parse_ms'])}; 10,000 characters {figures['long_ms']:.0f} ms")


def train(config: Path, directory: Path) -> Path:
    started = time.monotonic()
    subprocess.run([str(NLU_PYTHON), "-m", "nlu", "train", "--config", str(config), "--output",
                    str(directory)], cwd=REPO_ROOT, check=True, capture_output=True)
    print(f"  training: {time.monotonic() - started:.1f} s wall ({os.cpu_count()} cores), "
          f"{_rel(config)}")
    return directory / "nlu-trial.tar.gz"


def _rel(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def run(config: Path = REPO_ROOT / "config.yml") -> None:
    print("NLU (in-process parse, NLU server, training):")
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as scratch:
        model = train(config, Path(scratch))
        measure_in_process(model)
        measure_server(model)


if __name__ == "__main__":
    cli = argparse.ArgumentParser(prog="python -m bench.nlu")
    cli.add_argument("--in-process", metavar="MODEL", help=argparse.SUPPRESS)
    cli.add_argument("--config", type=Path, default=REPO_ROOT / "config.yml")
    args = cli.parse_args()
    if args.in_process:
        _in_process(args.in_process)
    else:
        run(args.config)
    sys.exit(0)
