"""The knowledge base's search: which published entry answers a citizen's question, for their
district and date, and how sure we are.

Ranking is BM25 from the `bm25s` library over each entry's question variants and its answer, the text
normalised as the NLU normalises it (NFC, one tone-mark placement, teencode expanded, diacritics
removed: "có được không", "co dc ko" and "có đc hông" are the same words), with word pairs added
because a Vietnamese word is often two syllables ("xét nghiệm", "cách ly"). What this module adds
to the library is only the decision to answer: the best entry's score as a share of what the
question could score at most (`confidence`), compared with THRESHOLD. A wrong answer is worse than
none, so the threshold was chosen on data/knowledge_eval.yml for precision first (`make kb-report`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import bm25s
import numpy as np

from bot.plain import plain_text

K1, B = 1.2, 0.75
# Chosen on data/knowledge_eval.yml (`make kb-report` prints the whole curve): the lowest
# confidence where top-1 precision and silence on questions without an entry both reach 0.95 is
# 0.17; 0.20 leaves a margin toward silence (precision 0.975, coverage 0.77, silence 0.98).
THRESHOLD = 0.20

# Words that carry no topic in a citizen's question: address, politeness, question words and
# particles. Left in, "cho em hỏi … vậy ạ" would match every entry a little. Without diacritics
# some words are two words: "cho" is also chợ, "con" a child, "nha" nhà, "tai" tại, "ve" vé, "ra"
# and "di" go with ra đồng, đi chợ: those stay.
STOPWORDS = frozenset("""
a ad admin ah ak anh ba bac ban ca cac cai can chi chu co cua cung da dang day de den do duoc em gi gium giup ha
hay hoi hong khi khong la lam len ma minh moi mot muon nao nay ne neu nhe nhi nhieu nhung nua o oi ong phai qua
roi sao se thang the thi thoi toi tong dai tu tui va vao vay voi vui long xin xiu chut
""".split())


def terms(text: str) -> list[str]:
    """The words BM25 compares: normalised, without diacritics, filler dropped, with each pair of
    neighbouring words as one more term."""
    words = [w for w in plain_text(text).replace("?", " ").split() if w not in STOPWORDS]
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:])]


@dataclass(frozen=True)
class Entry:
    """A published entry, as the search needs it."""
    id: str
    questions: tuple[str, ...]
    answer: str
    source_document: str
    source_issuer: str
    source_url: str
    scope: tuple[str, ...]          # districts; empty: the whole province
    valid_from: str | None          # YYYY-MM-DD
    valid_until: str | None
    updated_ts: float

    @classmethod
    def from_document(cls, doc: dict) -> "Entry":
        return cls(id=doc["_id"], questions=tuple(doc.get("questions") or ()), answer=doc.get("answer") or "",
                   source_document=doc.get("source_document") or "", source_issuer=doc.get("source_issuer") or "",
                   source_url=doc.get("source_url") or "", scope=tuple(doc.get("scope") or ()),
                   valid_from=doc.get("valid_from"), valid_until=doc.get("valid_until"),
                   updated_ts=float(doc.get("updated_ts") or 0.0))

    def applies(self, district: str | None, day: date | None) -> bool:
        """In force on `day` (None: any day) where the citizen lives (unknown: province-wide only)."""
        if self.scope and district not in self.scope:
            return False
        if day is not None:
            today = day.isoformat()
            if self.valid_from and today < self.valid_from or self.valid_until and today > self.valid_until:
                return False
        return True


@dataclass(frozen=True)
class Match:
    entry: Entry
    confidence: float   # 0..1: the share of the question's most attainable score
    score: float        # BM25


class Index:
    """BM25 over every question variant and the answer of the given entries (the answer brings the
    words people ask with that staff did not think of: "molnupiravir", "VssID", "80.000"); an
    entry scores its best document."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self._owner: list[int] = []
        corpus = []
        for number, entry in enumerate(entries):
            for document in (*entry.questions, entry.answer):
                corpus.append(terms(document) or ["_"])
                self._owner.append(number)
        self._owner_array = np.array(self._owner, dtype=np.int64)
        self._bm25 = bm25s.BM25(k1=K1, b=B)
        if corpus:
            self._bm25.index(corpus, show_progress=False)
            vocabulary = self._bm25.vocab_dict
            n = len(corpus)
            frequency = {term: 0 for term in vocabulary}
            for document in corpus:
                for term in set(document):
                    frequency[term] += 1
            # The same idf BM25 uses (Lucene's), to say how much a term of the question could add.
            self._idf = {term: float(np.log(1 + (n - f + 0.5) / (f + 0.5))) for term, f in frequency.items()}
            self._unknown_idf = float(np.log(1 + (n + 0.5) / 0.5))
        else:
            self._idf, self._unknown_idf = {}, 0.0

    def search(self, text: str, district: str | None = None, day: date | None = None, limit: int = 3) -> list[Match]:
        """The best entries in force for this district and day, best first."""
        query = terms(text)
        known = [term for term in query if term in self._idf]
        if not known:
            return []
        scores = self._bm25.get_scores(known)
        best = np.full(len(self.entries), 0.0)
        np.maximum.at(best, self._owner_array, scores)
        # A question's best conceivable score: every term it has, at its idf, saturated (bm25s
        # scores as Lucene does, tf / (tf + k1·norm): at most 1 per occurrence). Words the
        # base has never seen count at the highest idf: a question about something else scores low.
        attainable = sum(self._idf.get(term, self._unknown_idf) for term in query)
        found = []
        for number in np.argsort(-best):
            if best[number] <= 0 or len(found) == limit:
                break
            entry = self.entries[number]
            if entry.applies(district, day):
                found.append(Match(entry, float(best[number]) / attainable, float(best[number])))
        return found

    def best(self, text: str, district: str | None, day: date | None, threshold: float = THRESHOLD) -> Match | None:
        found = self.search(text, district, day, limit=1)
        return found[0] if found and found[0].confidence >= threshold else None


class KnowledgeBase:
    """The published entries of a running system, searched in memory. Every lookup reads the
    repository's knowledge version (one read by `_id`) and rebuilds the index when staff have
    published, retired or edited a published entry since: the next question gets the change,
    without retraining anything."""

    def __init__(self, repository):
        self.repository = repository
        self._index: Index | None = None
        self._version = None
        self._lock = threading.Lock()

    def index(self) -> Index:
        version = self.repository.knowledge_version()
        with self._lock:
            if self._index is None or version != self._version:
                self._index = Index([Entry.from_document(d) for d in self.repository.published_entries()])
                self._version = version
            return self._index

    def best(self, text: str, district: str | None, day: date | None) -> Match | None:
        return self.index().best(text, district, day)
