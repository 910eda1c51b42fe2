"""Runs the embedded MongoDB-compatible server (nx-27017) in the foreground for `make run` and
the tests. A wrapper rather than the `nx-27017` command because at its default INFO level the
server logs every command it receives, citizens' messages included: here it logs warnings only."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from nx_27017.nx_27017 import main as nx_main


def main() -> None:
    parser = argparse.ArgumentParser(description="embedded MongoDB-compatible server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    # nx-27017 refuses to start while its pid file names a live process, and defaults it to
    # /tmp/nx_27017.pid: every server needs its own.
    parser.add_argument("--pid-file", type=Path, required=True)
    parser.add_argument("--log-file", type=Path, required=True)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    # basicConfig here makes nx's own basicConfig a no-op, so this level holds.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.argv = ["nx-27017", "--host", "127.0.0.1", "-p", str(args.port), "--data-dir", str(args.data_dir),
                "--pid-file", str(args.pid_file), "--log-file", str(args.log_file)]
    nx_main()


if __name__ == "__main__":
    main()
