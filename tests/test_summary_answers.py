"""The summary files only on a clear yes (issue 11, behaviour 2), measured on the held-out summary
replies (data/heldout/summary.yml, 105 replies written for the NLU's own test): the bot's reading
(bot/cues.py) with the real model's parse, as written and chat style. No reply that is not a yes
may ever be read as one; how many real yeses are asked again is printed (`-rP`)."""
import pytest
import yaml

from bot import cues
from bot.config import REPO_ROOT
from nlu.chatstyle import chat_style
from nlu.client import NluClient

SET = yaml.safe_load((REPO_ROOT / "data" / "heldout" / "summary.yml").read_text(encoding="utf-8"))
REPLIES = [(line.strip()[2:].strip(), block["intent"]) for block in SET["nlu"]
           for line in block["examples"].splitlines() if line.strip().startswith("- ")]


@pytest.fixture(scope="module")
def readings(nlu_url):
    nlu = NluClient(nlu_url)
    return [(variant, text, label, cues.summary_answer(text, nlu.parse(text)))
            for original, label in REPLIES for variant, text in (("as written", original),
                                                                  ("chat style", chat_style(original)))]


def test_no_refusal_hesitation_or_cancel_is_read_as_yes(readings):
    assert len(REPLIES) >= 100
    taken = [(variant, text, label) for variant, text, label, answer in readings
             if label != "affirm" and answer == cues.YES]
    assert not taken, taken


def test_most_yeses_file_at_once(readings):
    yeses = [(variant, text) for variant, text, label, _ in readings if label == "affirm"]
    asked_again = [(variant, text) for variant, text, label, answer in readings
                   if label == "affirm" and answer != cues.YES]
    print(f"\n{len(asked_again)} of {len(yeses)} yeses asked again:", *asked_again, sep="\n  ")
    assert len(asked_again) <= 0.2 * len(yeses)
