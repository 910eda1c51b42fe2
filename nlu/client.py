"""HTTP client for the NLU server (Rasa's `/model/parse` API). Plain requests: never imports rasa."""
from __future__ import annotations

from dataclasses import dataclass, field

import requests


class NluUnavailable(Exception):
    """The NLU server did not answer; the message should wait and be tried again."""


@dataclass
class Parse:
    intent: str
    confidence: float
    entities: list[dict] = field(default_factory=list)


class NluClient:
    def __init__(self, base_url: str, timeout: float = 10.0, connections: int = 64):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        # A private service, never behind a proxy: requests would otherwise read the proxy
        # variables of the environment on every call.
        self.session.trust_env = False
        # One kept-alive connection per concurrent caller (a worker's lanes), not 10 reused and the rest dropped.
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=connections))
        self.session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=connections))

    def parse(self, text: str) -> Parse:
        try:
            response = self.session.post(f"{self.base_url}/model/parse", json={"text": text},
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise NluUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise NluUnavailable(f"HTTP {response.status_code}")
        body = response.json()
        intent = body.get("intent") or {}
        return Parse(
            intent=intent.get("name") or "out_of_scope",
            confidence=float(intent.get("confidence") or 0.0),
            entities=[{"entity": e.get("entity"), "value": e.get("value"), "start": e.get("start"), "end": e.get("end")}
                      for e in body.get("entities") or []],
        )

    def is_ready(self) -> bool:
        try:
            return self.session.get(f"{self.base_url}/status", timeout=2).status_code == 200
        except requests.RequestException:
            return False
