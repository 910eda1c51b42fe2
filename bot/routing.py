"""Which agency acts on a case, and by when: the routing table in data/agencies.yml."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import REPO_ROOT

AGENCIES_FILE = REPO_ROOT / "data" / "agencies.yml"
ANY_DISTRICT = "*"


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

    @classmethod
    def load(cls, path: Path = AGENCIES_FILE) -> "RoutingTable":
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def route(self, category: str, district: str | None, urgent: bool = False) -> Route:
        by_district = self.routes[category]
        agency = by_district.get(district or ANY_DISTRICT) or by_district[ANY_DISTRICT]
        hours = self.sla_hours["urgent"] if urgent else self.sla_hours[category]
        return Route(agency, self.agencies[agency], float(hours))
