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
        self.agencies = table["agencies"]  # the active ones: id -> name
        self.routes = table["routes"]
        self.sla_hours = table["sla_hours"]
        self.phones = table.get("phones") or {}  # only numbers staff entered: never an invented one
        # Units change (the 2025 reorganization) but filed cases keep the names they had: a retired
        # agency keeps its name and where its work went; a renamed or merged district its old name.
        self.retired_agencies = table.get("retired_agencies") or {}  # id -> {"name", "merged_into", "ts"}
        self.district_aliases = table.get("district_aliases") or {}   # old name -> the name now
        self.retired_districts = table.get("retired_districts") or []

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
        return {"agencies": self.agencies, "routes": self.routes, "sla_hours": self.sla_hours, "phones": self.phones,
                "retired_agencies": self.retired_agencies, "district_aliases": self.district_aliases,
                "retired_districts": self.retired_districts}

    @property
    def districts(self) -> list[str]:
        """The districts routed now, in the table's order."""
        return [d for d in next(iter(self.routes.values())) if d != ANY_DISTRICT]

    def current_district(self, district: str | None) -> str | None:
        """The name a district goes by now (an old name followed through renames and merges)."""
        for _ in range(10):  # a chain of renames, never a loop
            if district not in self.district_aliases:
                break
            district = self.district_aliases[district]
        return district

    def names_of(self, district: str) -> list[str]:
        """A district and every old name that leads to it: what filed cases may say."""
        return [district, *(old for old in self.district_aliases if self.current_district(old) == district)]

    def agency_name(self, agency: str | None) -> str:
        if agency in self.agencies:
            return self.agencies[agency]
        return (self.retired_agencies.get(agency) or {}).get("name", agency or "")

    def route(self, category: str, district: str | None, urgent: bool = False) -> Route:
        by_district = self.routes[category]
        agency = by_district.get(self.current_district(district) or ANY_DISTRICT) or by_district[ANY_DISTRICT]
        hours = self.sla_hours["urgent"] if urgent else self.sla_hours[category]
        return Route(agency, self.agencies[agency], float(hours))

    def health_line(self, district: str | None) -> str | None:
        """The district health centre and its phone, when staff have entered the number."""
        agency = self.route("health_advice", district).agency
        phone = self.phones.get(agency)
        return f"{self.agencies[agency]} (số {phone})" if phone else None
