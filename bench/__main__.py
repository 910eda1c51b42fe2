"""`make bench`: every benchmark, figures printed. `python -m bench load history` runs only the
named ones. `BENCH_COLD=1` also times a cold set-up (a fresh clone installing both environments
and training the model: several minutes)."""
import os
import sys

from bench import (backup, commands, console, drain, history, knowledge, load, login_flood, message_flow, nlu,
                   setup_time, tracking, zalo_tokens)

BENCHES = {
    "setup": lambda: setup_time.run(cold=os.environ.get("BENCH_COLD") == "1"),
    "nlu": nlu.run,
    "flow": message_flow.run,
    "drain": drain.run,
    "commands": commands.run,
    "tokens": zalo_tokens.run,
    "load": load.run,
    "history": history.run,
    "console": console.run,
    "backup": backup.run,
    "knowledge": knowledge.run,
    "tracking": tracking.run,
    "login": login_flood.run,
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHES)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    for name in chosen:
        BENCHES[name]()


if __name__ == "__main__":
    main()
