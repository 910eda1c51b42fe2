"""The knowledge base (issue 13): how long one lookup takes with 1,000 published entries, how long
a rebuild of the index takes after a publish, and message -> reply at 50 messages/s through the
real processes with citizens' questions, the knowledge base empty against 1,000 published entries
(alternated, so the machine's other load falls on both alike; each phase starts once the worker
has answered one question, i.e. rebuilt its index after the publish)."""
from __future__ import annotations

import copy
import json
import random
import statistics
import time

import requests
import yaml

from bench.message_flow import percentile, summary
from bench.services import running_processes
from bot import knowledge_entries
from bot.config import DATABASE_NAME, REPO_ROOT
from bot.knowledge import Entry, Index, terms
from bot.knowledge_report import EVALUATION, seed_entries
from bot.repository import Repository
from tests.conftest import free_port, load_fixture, zalo_signature
from tests.fakes import FakeGraphAPI, FakeZalo

ENTRIES = 1000
ROUNDS, MESSAGES, RATE = 8, 50, 50.0
QUESTIONS = [item["q"] for item in yaml.safe_load(EVALUATION.read_text(encoding="utf-8"))]


def thousand_entries() -> list[dict]:
    """The 43 seed entries and made-up ones of the same shape: questions and answers drawn from the
    seed's own words (so the vocabulary and the lengths are a real base's), two districts in three
    province-wide."""
    seed = yaml.safe_load((REPO_ROOT / "data" / "knowledge_seed.yml").read_text(encoding="utf-8"))
    words = [w for item in seed for w in " ".join([*item["questions"], item["answer"]]).split()]
    districts = ["Huyện Càng Long", "Huyện Cầu Kè", "Huyện Tiểu Cần", "Huyện Trà Cú"]
    rng = random.Random(13)
    made = []
    for n in range(ENTRIES - len(seed)):
        questions = [" ".join(rng.choices(words, k=rng.randint(6, 14))) + "?" for _ in range(rng.randint(2, 5))]
        made.append({"id": f"bench-{n:04d}", "questions": questions, "answer": " ".join(rng.choices(words, k=70)) + ".",
                     "source": {"document": f"Văn bản {n}/2021", "issuer": "UBND tỉnh Trà Vinh"},
                     "scope": [rng.choice(districts)] if n % 3 == 0 else []})
    return seed + made


def entries_of(items: list[dict]) -> list[Entry]:
    return [Entry.from_document({"_id": item["id"], **knowledge_entries.imported_document(item, time.time())})
            for item in items]


def lookups() -> None:
    items = thousand_entries()
    started = time.perf_counter()
    index = Index(entries_of(items))
    built = time.perf_counter() - started
    seconds = []
    for _ in range(5):
        for question in QUESTIONS:
            t0 = time.perf_counter()
            index.best(question, "Huyện Cầu Kè", None)
            seconds.append(time.perf_counter() - t0)
    small = Index(seed_entries())
    seed_seconds = []
    for question in QUESTIONS:
        t0 = time.perf_counter()
        small.best(question, None, None)
        seed_seconds.append(time.perf_counter() - t0)
    print(f"knowledge base: index of {len(items)} entries ({sum(len(i['questions']) + 1 for i in items)} documents, "
          f"{len({t for i in items for q in [*i['questions'], i['answer']] for t in terms(q)})} terms) built in {built * 1000:.0f} ms")
    print("  " + summary(f"lookup, {len(items)} entries", seconds))
    print("  " + summary(f"lookup, the {len(small.entries)} seed entries", seed_seconds))


def publish_all(repository: Repository, items: list[dict]) -> None:
    knowledge_entries.load(repository, items)
    for item in items:
        repository.update_entry(item["id"], status="published")
    repository.bump_knowledge_version()


def retire_all(repository: Repository, items: list[dict]) -> None:
    for item in items:
        repository.update_entry(item["id"], status="retired")
    repository.bump_knowledge_version()


def warm_up(url: str, fake: FakeZalo, phase: str) -> float:
    """One question, its reply awaited: the worker's index follows the publish before the timed run."""
    fake.reset()
    event = load_fixture("zalo", "user_send_text")
    event["sender"]["id"] = f"kb-warm-{phase}"
    event["message"].update(msg_id=f"kb-warm-{phase}", text=QUESTIONS[0])
    body = json.dumps(event).encode()
    t0 = time.monotonic()
    requests.post(f"{url}/webhooks/zalo", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)})
    fake.wait_for(1, timeout=60)
    return time.monotonic() - t0


def questions_at(url: str, fake: FakeZalo, phase: str, rate: float = RATE) -> list[float]:
    """MESSAGES questions from MESSAGES citizens at `rate` a second (0: all at once, a backlog);
    message -> reply times."""
    fake.reset()
    template, sent_at = load_fixture("zalo", "user_send_text"), {}
    for i in range(MESSAGES):
        event = copy.deepcopy(template)
        user = f"kb-{phase}-{i}"
        event["sender"]["id"] = user
        event["message"].update(msg_id=f"kb-{phase}-{i}", text=QUESTIONS[i % len(QUESTIONS)])
        body = json.dumps(event).encode()
        sent_at[user] = t0 = time.monotonic()
        response = requests.post(f"{url}/webhooks/zalo", data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)})
        assert response.status_code == 200, response.text
        if rate:
            time.sleep(max(0.0, t0 + 1 / rate - time.monotonic()))
    fake.wait_for(MESSAGES, timeout=300)
    firsts = {}
    for payload, at in zip(fake.received, fake.received_at):
        firsts.setdefault(payload["recipient"]["user_id"], at - sent_at[payload["recipient"]["user_id"]])
    return list(firsts.values())


def message_flow() -> None:
    zalo, graph = FakeZalo(), FakeGraphAPI()
    items = thousand_entries()
    database_port = free_port()
    try:
        with running_processes(zalo.url, graph.base_url, extra_env={"EMBEDDED_DB_PORT": str(database_port)}) as (url, _):
            repository = Repository(f"mongodb://127.0.0.1:{database_port}/{DATABASE_NAME}")
            timings: dict[str, list[float]] = {"empty": [], "1000": []}
            medians: dict[str, list[float]] = {"empty": [], "1000": []}
            rebuilds: list[float] = []
            for n in range(ROUNDS):
                for phase in (("empty", "1000") if n % 2 == 0 else ("1000", "empty")):  # ABBA: drift falls on both
                    (publish_all if phase == "1000" else retire_all)(repository, items)
                    rebuilt = warm_up(url, zalo, f"{phase}-{n}")
                    if phase == "1000":
                        rebuilds.append(rebuilt)
                    measured = questions_at(url, zalo, f"{phase}-{n}")
                    medians[phase].append(percentile(measured, 50))
                    timings[phase] += measured
            drained: dict[str, list[float]] = {"empty": [], "1000": []}
            for n in range(4):  # the worker's own pace: a backlog of questions, drained
                for phase in (("empty", "1000") if n % 2 == 0 else ("1000", "empty")):
                    (publish_all if phase == "1000" else retire_all)(repository, items)
                    warm_up(url, zalo, f"drain-{phase}-{n}")
                    drained[phase].append(MESSAGES / max(questions_at(url, zalo, f"drain-{phase}-{n}", rate=0)))
            repository.close()
        print(f"{ROUNDS} rounds of {MESSAGES} citizens' questions at {RATE:g}/s, 1 worker, embedded database:")
        for phase, name in (("empty", "knowledge base empty"), ("1000", f"{len(items)} entries published")):
            print("  " + summary(f"message -> reply, {name}", timings[phase]))
        for phase in ("empty", "1000"):
            print(f"  p50 of each {phase} phase (ms): {' '.join(f'{m * 1000:.0f}' for m in medians[phase])}")
        print(f"  the first question after each publish (the worker rebuilds its index): "
              f"{' '.join(f'{r * 1000:.0f}' for r in rebuilds)} ms")
        for phase, name in (("empty", "knowledge base empty"), ("1000", f"{len(items)} entries published")):
            print(f"  a backlog of {MESSAGES} questions drained at (messages/s), {name}: "
                  f"{' '.join(f'{d:.1f}' for d in drained[phase])}")
        ratio = percentile(timings["1000"], 50) / percentile(timings["empty"], 50)
        print(f"  p50 with the entries / without: {ratio:.2f}; mean {statistics.mean(timings['1000']) * 1000:.1f} ms "
              f"against {statistics.mean(timings['empty']) * 1000:.1f} ms")
    finally:
        zalo.close()
        graph.close()


def run() -> None:
    lookups()
    message_flow()
