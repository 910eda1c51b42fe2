"""Once a day, at the start of the shift: every agency hears of its overdue cases, the hotline of
all of them, in the console's alerts and, when SMTP is configured, by e-mail. The worker asks every
minute; the first process to claim the day's job sends it, once."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from bot import mail
from bot.alerts import HOTLINE_ROLES, alert_agency, alert_hotline
from bot.config import Settings
from bot.repository import Repository
from bot.routing import RoutingTable

VIETNAM = timezone(timedelta(hours=7))
OVERDUE_URL = "/console/cases?overdue=1"
CODES_LISTED = 20


def run_if_due(repository: Repository, settings: Settings, now: float) -> bool:
    local = datetime.fromtimestamp(now, VIETNAM)
    if local.hour < settings.overdue_alert_hour or not repository.claim_job(f"overdue:{local:%Y-%m-%d}"):
        return False
    send(repository, settings, now, f"{local:%d/%m/%Y}")
    return True


def send(repository: Repository, settings: Settings, now: float, day: str) -> dict[str, int]:
    """Returns how many overdue cases each agency was told of ("" for the hotline's total)."""
    table = RoutingTable.current(repository)
    by_agency: dict[str, list[str]] = defaultdict(list)
    cases = repository.open_overdue_cases(now)
    for case in cases:
        if case.get("sent_back") != "yes":  # a case sent back is the hotline's to move now
            by_agency[case.get("agency") or ""].append(case["code"])
    told = {"": len(cases)}
    for agency, codes in sorted(by_agency.items()):
        text = f"{len(codes)} hồ sơ quá hạn của {table.agency_name(agency)} ({day}): {_listed(codes)}"
        alert_agency(repository, agency, key=f"overdue:{day}:{agency}", kind="overdue", text=text, url=OVERDUE_URL)
        mail.send(settings, repository.staff_emails(("agency",), agency), f"[Tổng đài 1022] {len(codes)} hồ sơ quá hạn",
                  _body(text))
        told[agency] = len(codes)
    if cases:
        lines = [f"- {table.agency_name(a)}: {len(c)}" for a, c in sorted(by_agency.items(), key=lambda i: -len(i[1]))]
        sent_back = len(cases) - sum(len(c) for c in by_agency.values())
        if sent_back:
            lines.append(f"- Cơ quan trả về, chờ tổng đài: {sent_back}")
        text = f"{len(cases)} hồ sơ đang quá hạn ({day})."
        alert_hotline(repository, key=f"overdue:{day}:hotline", kind="overdue", text=text, url=OVERDUE_URL)
        mail.send(settings, repository.staff_emails(HOTLINE_ROLES), f"[Tổng đài 1022] {len(cases)} hồ sơ quá hạn",
                  _body(text + "\n" + "\n".join(lines)))
    return told


def _listed(codes: list[str]) -> str:
    shown = ", ".join(sorted(codes)[:CODES_LISTED])
    return shown + (f" và {len(codes) - CODES_LISTED} hồ sơ khác" if len(codes) > CODES_LISTED else "")


def _body(text: str) -> str:
    return (f"{text}\n\nXem trong trang quản trị Tổng đài 1022: mục Hồ sơ, ô \"Chỉ hồ sơ quá hạn\".\n"
            "Thư này được gửi tự động mỗi ngày.")
