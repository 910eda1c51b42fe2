"""`make bench`: every benchmark, figures printed. `BENCH_COLD=1` also times a cold set-up
(a fresh clone installing both environments and training the model: several minutes)."""
import os

from bench import message_flow, nlu, setup_time, zalo_tokens


def main() -> None:
    setup_time.run(cold=os.environ.get("BENCH_COLD") == "1")
    nlu.run()
    message_flow.run()
    zalo_tokens.run()


if __name__ == "__main__":
    main()
