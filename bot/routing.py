"""Which agency acts on a case, and by when: the routing table in data/agencies.yml."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import REPO_ROOT

AGENCIES_FILE = REPO_ROOT / "data" / "agencies.yml"
ANY_DISTRICT = "*"


@functools.cache
def _read(path: Path) -> dict:
    """The file changes only with a deployment; it was parsed again for every case filed."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Route:
    agency: str       # the agency's id in data/agencies.yml
    agency_name: str
    due_hours: float  # from filing until it should be resolved


class RoutingTable:
    def __init__(self, table: dict):
        self.agencies = table["agencies"]
        self.routes = table["routes"]
        self.sla_hours = table["sla_hours"]
        self.phones = table.get("phones") or {}  # only numbers staff entered: never an invented one

    @classmethod
    def load(cls, path: Path = AGENCIES_FILE) -> "RoutingTable":
        return cls(_read(path))

    @classmethod
    def current(cls, repository) -> "RoutingTable":
        """The table in force: data/agencies.yml, as an admin last edited it in the console (kept
        in the database, so every process files by the same table without a restart)."""
        edited = repository.routing_table()
        return cls(edited) if edited else cls.load()

    def to_document(self) -> dict:
        return {"agencies": self.agencies, "routes": self.routes, "sla_hours": self.sla_hours, "phones": self.phones}

    def route(self, category: str, district: str | None, urgent: bool = False) -> Route:
        by_district = self.routes[category]
        agency = by_district.get(district or ANY_DISTRICT) or by_district[ANY_DISTRICT]
        hours = self.sla_hours["urgent"] if urgent else self.sla_hours[category]
        return Route(agency, self.agencies[agency], float(hours))

    def health_line(self, district: str | None) -> str | None:
        """The district health centre and its phone, when staff have entered the number."""
        agency = self.route("health_advice", district).agency
        phone = self.phones.get(agency)
        return f"{self.agencies[agency]} (số {phone})" if phone else None
