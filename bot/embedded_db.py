"""Runs the embedded MongoDB-compatible server (nx-27017) in the foreground for `make run` and
the tests. A wrapper rather than the `nx-27017` command because:
- at its default INFO level the server logs every command it receives, citizens' messages
  included: here it logs warnings only;
- nx-27017 has no authentication: any program on the machine could read every citizen's report,
  the staff's password hashes and the platforms' tokens through its port. Given a password file,
  this wrapper requires SCRAM-SHA-256 — MongoDB's own mechanism, which pymongo speaks when the URI
  carries a user and password — before any command but the handshake, per connection;
- its files must be readable by the app's user only (umask 077, folder 0700).
Without --password-file the server is open, as nx-27017 is: benchmarks and tests that start their
own server on a port of their own use that."""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from neosqlite.options import JournalMode
from nx_27017.daemon import remove_pid_file, write_pid_file
from nx_27017.handler import NeoSQLiteHandler
from nx_27017.server import run_server_threaded
from pymongo.saslprep import saslprep

from bot.config import EMBEDDED_DB_USER as USER, private_dir
ITERATIONS = 15000  # MongoDB's default for SCRAM-SHA-256
HANDSHAKE = {"hello", "Hello", "isMaster", "ismaster"}
AUTH_FAILED = {"ok": 0, "errmsg": "Authentication failed.", "code": 18, "codeName": "AuthenticationFailed"}


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


class Scram:
    """The server's side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for one user. Only the keys derived
    from the password are kept, as MongoDB keeps them."""

    def __init__(self, password: str):
        self.salt = os.urandom(28)
        salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), self.salt, ITERATIONS)
        self.stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
        self.server_key = _hmac(salted, b"Server Key")

    def first(self, client_first: bytes) -> tuple[dict, dict] | None:
        """(the server's first answer, the conversation so far), or None when the client's first
        message is not one this server takes (another user, channel binding)."""
        text = client_first.decode()
        if not text.startswith("n,,"):
            return None
        bare = text[3:]
        fields = dict(part.split("=", 1) for part in bare.split(",") if "=" in part)
        if fields.get("n", "").replace("=2C", ",").replace("=3D", "=") != USER or not fields.get("r"):
            return None
        nonce = fields["r"] + base64.b64encode(os.urandom(24)).decode()
        server_first = f"r={nonce},s={base64.b64encode(self.salt).decode()},i={ITERATIONS}"
        return ({"conversationId": 1, "done": False, "payload": server_first.encode(), "ok": 1},
                {"bare": bare, "server_first": server_first, "nonce": nonce})

    def final(self, conversation: dict, client_final: bytes) -> dict | None:
        """The server's last answer when the client proved it knows the password, else None."""
        text = client_final.decode()
        without_proof, _, proof = text.rpartition(",p=")
        fields = dict(part.split("=", 1) for part in without_proof.split(",") if "=" in part)
        if fields.get("c") != "biws" or fields.get("r") != conversation["nonce"] or not proof:
            return None
        message = f"{conversation['bare']},{conversation['server_first']},{without_proof}".encode()
        signature = _hmac(self.stored_key, message)
        try:
            client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
        except ValueError:
            return None
        if len(client_key) != len(signature) or not hmac.compare_digest(hashlib.sha256(client_key).digest(),
                                                                         self.stored_key):
            return None
        verifier = base64.b64encode(_hmac(self.server_key, message)).decode()
        return {"conversationId": 1, "done": True, "payload": f"v={verifier}".encode(), "ok": 1}


class AuthenticatingHandler(NeoSQLiteHandler):
    """nx-27017's handler, behind SCRAM-SHA-256: a connection that has not proved the password gets
    the handshake and the two authentication commands, and "Unauthorized" for anything else."""

    def __init__(self, scram: Scram, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scram = scram
        self._proved: set = set()
        self._conversations: dict = {}
        self._auth_lock = threading.Lock()

    def handle_command(self, msg):
        connection = msg.get("_conn_id")
        if connection in self._proved:
            return super().handle_command(msg)
        command = next((doc for kind, doc in msg["sections"] if kind == "body"), None) or {}
        name = next(iter(command), "")
        if name in HANDSHAKE:
            request_id, answer = super().handle_command(msg)
            if "saslSupportedMechs" in command:
                answer["saslSupportedMechs"] = ["SCRAM-SHA-256"]
            return request_id, answer
        if name == "saslStart" and command.get("mechanism") == "SCRAM-SHA-256":
            started = self.scram.first(bytes(command.get("payload") or b""))
            if started is None:
                return msg["request_id"], AUTH_FAILED
            answer, conversation = started
            with self._auth_lock:
                self._conversations[connection] = conversation
            return msg["request_id"], answer
        if name == "saslContinue":
            with self._auth_lock:
                conversation = self._conversations.pop(connection, None)
            answer = conversation and self.scram.final(conversation, bytes(command.get("payload") or b""))
            if not answer:
                logging.getLogger("tongdai.database").warning("a connection failed to authenticate")
                return msg["request_id"], AUTH_FAILED
            with self._auth_lock:
                self._proved.add(connection)
            return msg["request_id"], answer
        return msg["request_id"], {"ok": 0, "errmsg": f"command {name} requires authentication", "code": 13,
                                   "codeName": "Unauthorized"}

    def handle_insert(self, msg):
        if msg.get("_conn_id") not in self._proved:
            return msg["request_id"], {"ok": 0, "errmsg": "insert requires authentication", "code": 13,
                                       "codeName": "Unauthorized"}
        return super().handle_insert(msg)

    def handle_query(self, msg):
        collection = msg.get("collection") or ""
        if msg.get("_conn_id") not in self._proved and collection and collection != "$cmd" \
                and not collection.endswith(".$cmd"):
            return msg["request_id"], [{"$err": "query requires authentication", "code": 13}]
        return super().handle_query(msg)  # a command: through handle_command above

    def close_streams_for_connection(self, conn_id):
        super().close_streams_for_connection(conn_id)
        with self._auth_lock:
            self._proved.discard(conn_id)
            self._conversations.pop(conn_id, None)


# nx-27017's worker threads are not daemons: one blocked in a query once kept a terminated server
# alive for minutes (a restore drill timed out on it). Every write is a committed SQLite
# transaction, so leaving after this grace loses nothing a client was told was written.
STOP_GRACE_SECONDS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description="embedded MongoDB-compatible server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    # nx-27017 refuses to start while its pid file names a live process, and defaults it to
    # /tmp/nx_27017.pid: every server needs its own.
    parser.add_argument("--pid-file", type=Path, required=True)
    parser.add_argument("--log-file", type=Path, required=True)
    parser.add_argument("--password-file", type=Path, help=f"require SCRAM-SHA-256 as user {USER!r} with this password")
    args = parser.parse_args()
    os.umask(0o077)  # the database files: the app's user only
    private_dir(args.data_dir)
    # basicConfig here makes nx's own basicConfig a no-op, so this level holds.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().addHandler(logging.FileHandler(args.log_file))
    options = {"journal_mode": JournalMode.validate("WAL"), "data_dir": str(args.data_dir)}
    if args.password_file:
        handler = AuthenticatingHandler(Scram(args.password_file.read_text().strip()), str(args.data_dir), **options)
    else:
        handler = NeoSQLiteHandler(str(args.data_dir), **options)
    if not write_pid_file(str(args.pid_file)):
        sys.exit(1)

    def stop(*_):
        timer = threading.Timer(STOP_GRACE_SECONDS, lambda: (remove_pid_file(str(args.pid_file)), os._exit(0)))
        timer.daemon = True
        timer.start()
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # the open clients' tasks, cancelled: not errors
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        run_server_threaded("127.0.0.1", args.port, handler, use_threading=False)
    finally:
        remove_pid_file(str(args.pid_file))


if __name__ == "__main__":
    main()
