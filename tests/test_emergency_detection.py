"""Emergency detection (issue 11, behaviour 1) measured on tests/data/emergency_messages.yml, each
message as written and with its diacritics stripped: no danger message may be missed; false
alarms on ordinary health messages are reported, under a loose ceiling so the figure means
something (`pytest tests/test_emergency_detection.py -rP` shows the figure and the false alarms)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu.text import strip_diacritics

MESSAGES = yaml.safe_load((Path(__file__).parent / "data" / "emergency_messages.yml").read_text(encoding="utf-8"))
FALSE_ALARM_CEILING = 0.15


@pytest.fixture(scope="module")
def is_emergency():
    from bot.danger import is_emergency  # comes with the conversation rewrite (issue 11)
    return is_emergency


def copies(danger: bool) -> list[str]:
    """Every message of one label as written and without diacritics (once when they are the same)."""
    return list(dict.fromkeys(copy for m in MESSAGES if m["danger"] == danger
                              for copy in (m["text"], strip_diacritics(m["text"]))))


def test_the_set_is_large_and_balanced():
    danger, ordinary = (sum(m["danger"] is label for m in MESSAGES) for label in (True, False))
    assert danger + ordinary == len(MESSAGES) >= 150
    assert min(danger, ordinary) >= 0.45 * len(MESSAGES)


def test_no_danger_message_is_missed(is_emergency):
    missed = [text for text in copies(danger=True) if not is_emergency(text)]
    assert not missed, f"{len(missed)} danger messages not recognised:\n" + "\n".join(missed)


def test_false_alarms_are_reported_and_few(is_emergency):
    ordinary = copies(danger=False)
    alarms = [text for text in ordinary if is_emergency(text)]
    rate = len(alarms) / len(ordinary)
    print(f"\nfalse alarms: {len(alarms)} of {len(ordinary)} ordinary messages ({rate:.1%})", *alarms, sep="\n  ")
    assert rate <= FALSE_ALARM_CEILING, f"false alarms {rate:.1%} over {FALSE_ALARM_CEILING:.0%}:\n" + "\n".join(alarms)
