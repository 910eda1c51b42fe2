"""Emergency detection (issue 11, behaviour 1) measured on the sets in tests/data/, each message as
written and with its diacritics stripped: no danger message may be missed; false alarms on ordinary
messages are reported, under a ceiling so the figure means something (`-rP` shows them).

The sets were written by five different hands, none of them looking at the detector:
emergency_messages.yml (the conversation tests' author, 186), _2 (205), _3 (249), _4 (271, with
hard non-health look-alikes) and _5 (273). Each was first run untouched; what it found missing was
then added to bot/danger.py. First runs, danger messages missed / ordinary ones alarmed: 3 of 92 /
11 of 94, 20 of 108 / 13 of 97, 37 of 130 / 14 of 119, 13 of 123 / 30 of 148, 16 of 125 / 24 of
148: a new set written blind is the honest measure of the next version."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu.text import strip_diacritics

SETS = sorted((Path(__file__).parent / "data").glob("emergency_messages*.yml"))
FALSE_ALARM_CEILING = 0.08


def load(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def is_emergency():
    from bot.danger import is_emergency
    return is_emergency


def copies(messages: list[dict], danger: bool) -> list[str]:
    """Every message of one label as written and without diacritics (once when they are the same)."""
    return list(dict.fromkeys(copy for m in messages if m["danger"] == danger
                              for copy in (m["text"], strip_diacritics(m["text"]))))


def test_the_sets_are_large_and_balanced():
    messages = [m for path in SETS for m in load(path)]
    danger = sum(m["danger"] is True for m in messages)
    assert len(SETS) >= 4 and len(messages) >= 900
    assert 0.4 * len(messages) <= danger <= 0.6 * len(messages)


@pytest.mark.parametrize("path", SETS, ids=lambda path: path.stem)
def test_no_danger_message_is_missed(path, is_emergency):
    missed = [text for text in copies(load(path), danger=True) if not is_emergency(text)]
    assert not missed, f"{len(missed)} danger messages not recognised:\n" + "\n".join(missed)


@pytest.mark.parametrize("path", SETS, ids=lambda path: path.stem)
def test_false_alarms_are_reported_and_few(path, is_emergency):
    ordinary = copies(load(path), danger=False)
    alarms = [text for text in ordinary if is_emergency(text)]
    rate = len(alarms) / len(ordinary)
    print(f"\n{path.stem}: false alarms {len(alarms)} of {len(ordinary)} ordinary messages ({rate:.1%})",
          *alarms, sep="\n  ")
    assert rate <= FALSE_ALARM_CEILING, f"false alarms {rate:.1%} over {FALSE_ALARM_CEILING:.0%}:\n" + "\n".join(alarms)
