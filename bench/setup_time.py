"""Set-up time: warm (everything installed and trained: must do nothing) and cold (a fresh
clone: both environments installed and the model trained), phase by phase."""
import subprocess
import tempfile
import time

from bot.config import REPO_ROOT


def timed_setup(cwd) -> list[tuple[float, str]]:
    """Runs scripts/setup.sh and returns (seconds since start, line) for each line it prints."""
    started = time.monotonic()
    process = subprocess.Popen(["bash", "scripts/setup.sh"], cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = [(time.monotonic() - started, line.rstrip()) for line in process.stdout
             if "[setup]" in line or "NLU" in line or "model" in line.lower()]
    if process.wait() != 0:
        raise SystemExit("set-up failed")
    lines.append((time.monotonic() - started, "done"))
    return lines


def run(cold: bool) -> None:
    warm = timed_setup(REPO_ROOT)
    print(f"set-up, warm (nothing to do): {warm[-1][0]:.2f} s")
    if not cold:
        print("set-up, cold: skipped (BENCH_COLD=1 to measure; takes minutes)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "clone", "-q", str(REPO_ROOT), tmp], check=True)
        phases = timed_setup(tmp)
    print("set-up, cold (fresh clone):")
    previous = 0.0
    for at, line in phases:
        print(f"  {at:7.1f} s (+{at - previous:6.1f} s)  {line}")
        previous = at
