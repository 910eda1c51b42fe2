"""`python -m nlu train | parse | serve | evaluate`, run from the repository root in the Rasa
environment.

rasa is imported inside the commands only: `train` must answer "up to date" in well under a second.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import contextlib
import io
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Optional

from nlu.model import CONFIG, MODEL_DIR, REPO_ROOT, TRAINING_FILES, latest_model, model_path
from nlu.text import normalize

KEEP_MODELS = 3
# FallbackClassifier's intent: what the classifier was not sure enough about, and what nothing
# can be classified from (blank text, a failure).
FALLBACK_INTENT = "nlu_fallback"

log = logging.getLogger("nlu")


def _quiet_rasa() -> None:
    """Logging to stderr at WARNING; must run before rasa or tensorflow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Rasa's training cache defaults to ./.rasa/cache in the repository and would also reuse
    # outputs of our own component after its code changed; the model file is our cache.
    os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nlu").setLevel(logging.INFO)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)  # warns about its own style files
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # rasa's dependencies re-enable deprecation warnings while importing, so filters do not hold.
    import warnings
    show = warnings.showwarning

    def show_unless_deprecation(message, category, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not issubclass(category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            show(message, category, *args, **kwargs)

    warnings.showwarning = show_unless_deprecation

    # Unconfigured structlog prints every level to stdout, and rasa debug-logs each parsed text.
    import structlog
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- train -------------------------------------------------------------------------------------

def train(args: argparse.Namespace) -> int:
    if args.output:  # a trial model (another config, a benchmark): var/models stays as it is
        started = time.monotonic()
        trained = train_model(Path(args.config), Path(args.output), "nlu-trial")
        print(f"NLU model trained in {time.monotonic() - started:.1f} s: {_rel(trained)}")
        return 0
    target = model_path()
    if target.is_file() and not args.force:
        print(f"NLU model up to date: {_rel(target)}")
        return 0
    print(f"Training NLU model {_rel(target)} from {_rel(CONFIG)} and "
          f"{', '.join(_rel(f) for f in TRAINING_FILES)} ...", flush=True)
    started = time.monotonic()
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    train_model(CONFIG, MODEL_DIR, target.name[: -len(".tar.gz")])
    _prune_old_models(keep=target)
    print(f"NLU model trained in {time.monotonic() - started:.1f} s: {_rel(target)}")
    return 0


def train_model(config: Path, directory: Path, name: str) -> Path:
    """Trains directory/name.tar.gz from config and the training files (nlu.model.TRAINING_FILES);
    exits with an error on failure."""
    _quiet_rasa()
    from rasa.model_training import train_nlu

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.tar.gz"
    # Train into a scratch folder and rename at the end: an interrupted run must never leave a
    # half-written file under the name that means "up to date".
    with tempfile.TemporaryDirectory(dir=directory, prefix=".training-") as scratch:
        # Rasa reads one path: a folder holding links to exactly the training files.
        data = Path(scratch) / "data"
        data.mkdir()
        for source in TRAINING_FILES:
            (data / source.name).symlink_to(source)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            trained = train_nlu(config=str(config), nlu_data=str(data), output=scratch,
                                fixed_model_name=name)
        # Rasa's own messages, minus the one naming the scratch folder.
        for line in printed.getvalue().splitlines():
            if "Your Rasa model is trained" not in line:
                print(line, file=sys.stderr)
        if not trained:
            raise SystemExit("NLU training failed")
        os.replace(trained, target)
    return target


def _prune_old_models(keep: Path) -> None:
    models = sorted(MODEL_DIR.glob("nlu-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][KEEP_MODELS - 1:]:
        old.unlink()


# --- loading and parsing -----------------------------------------------------------------------

class Parser:
    """A loaded model and the one event loop its coroutines run on."""

    def __init__(self, model: Path):
        from rasa.core.agent import Agent

        self.model = model
        self.agent = Agent.load(str(model))
        if not self.agent.is_ready():
            raise RuntimeError(f"could not load the NLU model {model}")
        self.loop = asyncio.new_event_loop()

    def parse_async(self, text: str):
        return self.agent.parse_message(text)

    def parse(self, text: str) -> Dict[str, Any]:
        return self.loop.run_until_complete(self.parse_async(text))


def _find_model() -> Optional[Path]:
    model = latest_model()
    if model is None:
        print(f"No NLU model in {_rel(MODEL_DIR)}: run `python -m nlu train` first.",
              file=sys.stderr)
    elif model != model_path():
        print(f"Using {model.name}, which is older than config.yml/data/: run `python -m nlu train`.",
              file=sys.stderr)
    return model


def as_rasa_response(text: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """Rasa's /model/parse shape, with the caller's own text (the pipeline rewrote it)."""
    response = dict(result)
    response["text"] = text
    # Token offsets point into the rewritten text, not the caller's.
    response.pop("text_tokens", None)
    intent = response.get("intent") or {}
    if not intent.get("name") or not normalize(text):
        # Nothing to classify: the classifier would only return its prior (or no name at all).
        response["intent"] = {"name": FALLBACK_INTENT, "confidence": 0.0}
        response["intent_ranking"] = []
    response.setdefault("entities", [])
    response.setdefault("intent_ranking", [])
    return response


def as_line(text: str, result: Dict[str, Any]) -> Dict[str, Any]:
    response = as_rasa_response(text, result)
    entities, seen = [], set()
    for entity in response["entities"]:
        # Two extractors may report the same entity.
        key = (entity.get("entity"), json.dumps(entity.get("value"), sort_keys=True))
        if key not in seen:
            seen.add(key)
            entities.append({k: entity.get(k) for k in ("entity", "value", "start", "end")})
    return {"text": text, "intent": response["intent"]["name"],
            "confidence": float(response["intent"].get("confidence") or 0.0), "entities": entities}


def _json_line(obj: Dict[str, Any]) -> bytes:
    line = json.dumps(obj, ensure_ascii=False)
    # JSON allows these raw, but str.splitlines() on the reader's side would split on them.
    for char in ("\u2028", "\u2029", "\x85"):
        line = line.replace(char, f"\\u{ord(char):04x}")
    return (line + "\n").encode("utf-8")


def parse(args: argparse.Namespace) -> int:
    # Keep the real stdout for results only; anything else (print() in a library, C code writing
    # to descriptor 1) ends up on stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _quiet_rasa()
    model = _find_model()
    if model is None:
        return 1
    parser = Parser(model)
    try:
        for raw in sys.stdin.buffer:
            text = raw.decode("utf-8", "replace")
            text = text[:-1] if text.endswith("\n") else text
            text = text[:-1] if text.endswith("\r") else text
            try:
                line = as_line(text, parser.parse(text))
            except Exception as exc:  # one bad line must not end the stream
                log.error("parse failed: %s", type(exc).__name__)  # its message may quote the text
                line = {"text": text, "intent": FALLBACK_INTENT, "confidence": 0.0, "entities": []}
            out.write(_json_line(line))
            out.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away
        return 1
    return 0


# --- serve -------------------------------------------------------------------------------------

class _State:
    parser: Optional[Parser] = None
    load_failed = False
    rasa_version = ""


class _Handler(BaseHTTPRequestHandler):
    server_version = "tongdai1022-nlu"
    protocol_version = "HTTP/1.1"
    # Headers and body in one send: written apart, on a kept-alive connection the body waited for
    # the client's delayed ACK (Nagle), 40 ms on every parse (52 ms -> 4.5 ms p50, measured).
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # request lines are noise here, and user text must never reach the logs

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send(status, {"version": _State.rasa_version, "status": "failure", "message": message,
                            "reason": status.phrase.replace(" ", ""), "code": int(status)})

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?")[0]
        if path == "/":
            body = f"Hello from Rasa: {_State.rasa_version}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/version":
            self._send(200, {"version": _State.rasa_version, "minimum_compatible_version": "3.5.0"})
        elif path == "/status":
            parser = _State.parser
            if parser is None:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "The NLU model is still loading.")
            else:
                self._send(200, {"model_file": parser.model.name,
                                 "model_id": parser.agent.model_id,
                                 "num_active_training_jobs": 0})
        else:
            self._error(HTTPStatus.NOT_FOUND, "Not found.")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?")[0] != "/model/parse":
            self._error(HTTPStatus.NOT_FOUND, "Not found.")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError("negative Content-Length")
            body = json.loads(self.rfile.read(length) or b"null")
            text = body["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError):
            self._error(HTTPStatus.BAD_REQUEST, 'Send JSON {"text": "..."}.')
            return
        parser = _State.parser
        if parser is None:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "The NLU model is still loading.")
            return
        try:
            future = asyncio.run_coroutine_threadsafe(parser.parse_async(text), parser.loop)
            self._send(200, as_rasa_response(text, future.result(timeout=60)))
        except Exception as exc:
            log.error("parse failed: %s", type(exc).__name__)  # its message may quote the text
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "An unexpected error occurred.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A worker opens a connection per lane at once (32); the default backlog of 5 refused some.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up early
            super().handle_error(request, client_address)


def serve(args: argparse.Namespace) -> int:
    started = time.monotonic()
    _quiet_rasa()
    model = Path(args.model) if args.model else _find_model()
    if model is None:
        return 1
    _State.rasa_version = importlib.metadata.version("rasa")
    # Bind first so a busy port fails at once instead of after loading the model.
    try:
        server = _Server((args.host, args.port), _Handler)
    except OSError as exc:
        print(f"NLU server cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def load() -> None:
        try:
            parser = Parser(model)
        except BaseException as exc:
            log.error("could not load %s: %s", model.name, exc)
            _State.load_failed = True
            os.kill(os.getpid(), signal.SIGTERM)
            return
        # Rasa coroutines all run on the parser's one loop in one thread, whichever request
        # thread asks.
        threading.Thread(target=parser.loop.run_forever, name="nlu-loop", daemon=True).start()
        _State.parser = parser
        print(f"NLU server ready on http://{args.host}:{args.port} (model {model.name}, "
              f"{time.monotonic() - started:.1f} s)", file=sys.stderr, flush=True)

    threading.Thread(target=load, name="nlu-load", daemon=True).start()
    code = 0
    try:
        server.serve_forever()
    except KeyboardInterrupt as stopped:
        code = 130 if stopped.args and stopped.args[0] == signal.SIGINT else 0
    server.server_close()
    code = 1 if _State.load_failed else code
    print("NLU server stopped", file=sys.stderr, flush=True)
    sys.stderr.flush()
    # TensorFlow's threads may still be loading: leave at once rather than wait for them.
    os._exit(code)


# --- evaluate ----------------------------------------------------------------------------------

REPORT_DIR = REPO_ROOT / "var" / "nlu-report"


def evaluate(args: argparse.Namespace) -> int:
    from nlu import evaluate as evaluation

    _quiet_rasa()
    out = Path(args.out)
    if args.data:
        test_sets = [evaluation.TestSet(Path(d).stem, Path(d)) for d in args.data]
    else:
        test_sets = [s for s in evaluation.TEST_SETS if s.path.is_file()]
    missing = [s.path for s in test_sets if not s.path.is_file()] or ([] if test_sets else [
        evaluation.HELDOUT_DIR])
    if missing:
        print(f"No test set at {', '.join(_rel(p) for p in missing)}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="nlu-trial-") as scratch:
        train_seconds = None
        if args.config:
            started = time.monotonic()
            model = train_model(Path(args.config), Path(scratch), "nlu-trial")
            train_seconds = time.monotonic() - started
        else:
            model = Path(args.model) if args.model else _find_model()
            if model is None:
                return 1
        started = time.monotonic()
        parser = Parser(model)
        load_seconds = time.monotonic() - started
        results = evaluation.run(parser, test_sets, out, model=model,
                                 config=Path(args.config or CONFIG), load_seconds=load_seconds,
                                 train_seconds=train_seconds)
    print(results["summary"])
    return 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train_cmd = commands.add_parser("train", help="train the model unless it is up to date")
    train_cmd.add_argument("--force", action="store_true", help="train even if up to date")
    train_cmd.add_argument("--config", default=str(CONFIG), help="with --output: another config")
    train_cmd.add_argument("--output", help="train a trial model into this folder instead")
    train_cmd.set_defaults(run=train)
    commands.add_parser("parse", help="stdin lines -> JSON lines on stdout").set_defaults(run=parse)
    serve_cmd = commands.add_parser("serve", help="Rasa-compatible HTTP API: /status, /model/parse")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=5005)
    serve_cmd.add_argument("--model", help="model file (default: the current model)")
    serve_cmd.set_defaults(run=serve)
    eval_cmd = commands.add_parser("evaluate", help="held-out evaluation report (nlu/evaluate.py)")
    eval_cmd.add_argument("--data", action="append",
                          help="a test set (Rasa YAML), instead of all of data/heldout/; repeatable")
    eval_cmd.add_argument("--out", default=str(REPORT_DIR), help="where the report goes")
    eval_cmd.add_argument("--model", help="model file (default: the current model)")
    eval_cmd.add_argument("--config", help="train a trial model from this config and evaluate it")
    eval_cmd.set_defaults(run=evaluate)
    args = parser.parse_args(argv)
    return args.run(args)
