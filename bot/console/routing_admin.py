"""Agencies, districts, the routing table and SLA hours, as an admin edits them. Units change (the
2025 reorganization merged and removed districts): an agency or a district is renamed, merged or
retired, never deleted, so filed cases keep the names they had."""
from __future__ import annotations

import re
import time
import unicodedata

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot import cases as case_actions, texts
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.cases import routing
from bot.console.forms import ActionForm
from bot.repository import OPEN_STATUSES
from bot.routing import ANY_DISTRICT, RoutingTable

SLA_KEYS = ("report", "suggestion", "welfare", "health_advice", "urgent")
AGENCY_ID = re.compile(r"^[a-z0-9_]{2,40}$")
PHONE = re.compile(r"^\+?(?:[\d][ .]?){8,15}$")
MAX_SLA_HOURS = 24 * 60
ACTIVE, RETIRE, MERGE = "", "retire", "merge:"


def _text(form, name: str) -> str | None:
    """None when the field was not posted (unchanged); stripped NFC text otherwise."""
    value = form.get(name)
    return None if value is None else unicodedata.normalize("NFC", value.strip())


class Edit:
    """The table as the admin submitted it, and what is wrong with it, field by field (the page is
    drawn again with every other edit kept)."""

    def __init__(self, form, table: RoutingTable):
        self.form, self.table, self.errors = form, table, {}
        self.agencies = self._agencies()
        self.phones = self._phones()
        self.agency_fates = self._agency_fates()
        self.districts, self.district_fates = self._districts()
        self.new_district = self._new_district()
        self.sla = self._sla()
        self.routes = self._routes()

    def error(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def _agencies(self) -> dict[str, str]:
        agencies = {}
        for key, name in self.table.agencies.items():
            posted = _text(self.form, f"agency-{key}")
            agencies[key] = name if posted is None else posted
            if not agencies[key] or len(agencies[key]) > 200:
                self.error(f"agency-{key}", "Tên cơ quan không được để trống (tối đa 200 ký tự).")
        new_id, new_name = _text(self.form, "new-agency-id") or "", _text(self.form, "new-agency-name") or ""
        if new_id or new_name:
            if not AGENCY_ID.match(new_id):
                self.error("new-agency-id", "Mã cơ quan 2–40 ký tự: chữ thường không dấu, số, dấu gạch dưới.")
            elif new_id in agencies or new_id in self.table.retired_agencies:
                self.error("new-agency-id", "Mã này đã có (kể cả cơ quan đã ngừng hoạt động).")
            if not new_name or len(new_name) > 200:
                self.error("new-agency-name", "Vui lòng nhập tên cơ quan mới (tối đa 200 ký tự).")
            if "new-agency-id" not in self.errors and "new-agency-name" not in self.errors:
                agencies[new_id] = new_name
        return agencies

    def _phones(self) -> dict[str, str]:
        """The numbers citizens are given (the district health centre's, with the 115 advice)."""
        phones = {}
        for key in self.table.agencies:
            posted = _text(self.form, f"phone-{key}")
            phone = self.table.phones.get(key, "") if posted is None else posted
            if phone and not PHONE.match(phone):
                self.error(f"phone-{key}", "Số điện thoại 8–15 chữ số (có thể có dấu cách, dấu chấm, dấu +).")
            elif phone:
                phones[key] = phone
        return phones

    def _agency_fates(self) -> dict[str, str | None]:
        """Agencies leaving: id -> the agency taking its routes and open cases (None: retired alone)."""
        fates = {}
        for key in self.table.agencies:
            fate = self.form.get(f"fate-agency-{key}") or ACTIVE
            if fate == RETIRE:
                fates[key] = None
            elif fate.startswith(MERGE):
                fates[key] = fate[len(MERGE):]
        for key, target in fates.items():
            if target is not None and (target not in self.agencies or target == key or target in fates):
                self.error(f"fate-agency-{key}", "Chọn một cơ quan đang hoạt động để sáp nhập vào.")
            elif target is None:
                open_cases = repository().count_cases(agency=key, statuses=list(OPEN_STATUSES))
                if open_cases:
                    self.error(f"fate-agency-{key}", f"Cơ quan còn {open_cases} hồ sơ đang mở: chọn cơ quan nhận "
                                                     "(sáp nhập) để chuyển các hồ sơ này.")
        return fates

    def _districts(self) -> tuple[dict[str, str], dict[str, str | None]]:
        """(old name -> name now, for every district kept), (district leaving -> where its name now
        leads, None: retired)."""
        names, fates = {}, {}
        for n, district in enumerate(self.table.districts):
            posted = _text(self.form, f"district-{n}")
            name = district if posted is None else posted
            if not name or len(name) > 100:
                self.error(f"district-{n}", "Tên huyện không được để trống (tối đa 100 ký tự).")
            fate = self.form.get(f"fate-district-{n}") or ACTIVE
            if fate == RETIRE:
                fates[district] = None
            elif fate.startswith(MERGE):
                target = fate[len(MERGE):]
                if target == district or target not in self.table.districts:
                    self.error(f"fate-district-{n}", "Chọn một huyện khác để sáp nhập vào.")
                fates[district] = target
            else:
                names[district] = name
        for district, target in fates.items():
            if target is not None and target in fates:
                self.error(f"fate-district-{self.table.districts.index(district)}",
                           "Huyện nhận sáp nhập không được cũng là huyện bị bỏ.")
        seen = {}
        for old, name in names.items():
            if name in seen.values() or (name != old and name in self.table.district_aliases):
                self.error(f"district-{self.table.districts.index(old)}", "Tên huyện bị trùng.")
            seen[old] = name
        return names, fates

    def _new_district(self) -> str | None:
        name = _text(self.form, "new-district") or ""
        if not name:
            return None
        if len(name) > 100 or name in self.districts.values() or name == ANY_DISTRICT:
            self.error("new-district", "Tên huyện mới bị trùng hoặc quá dài.")
            return None
        return name

    def _sla(self) -> dict[str, float]:
        sla = {}
        for key in SLA_KEYS:
            raw = _text(self.form, f"sla-{key}")
            if raw is None:
                sla[key] = self.table.sla_hours[key]
                continue
            try:
                sla[key] = float(raw.replace(",", "."))
            except ValueError:
                self.error(f"sla-{key}", "Thời hạn phải là số giờ, ví dụ 24 hoặc 1,5.")
                continue
            if not 0 < sla[key] <= MAX_SLA_HOURS:
                self.error(f"sla-{key}", f"Thời hạn phải từ trên 0 đến {MAX_SLA_HOURS} giờ.")
        return sla

    def _routes(self) -> dict[str, dict[str, str]]:
        active = {key for key in self.agencies if key not in self.agency_fates}
        routes = {}
        for category, by_district in self.table.routes.items():
            routes[category] = {}
            for n, (district, agency) in enumerate(by_district.items()):
                field = f"route-{category}-{n}"
                chosen = self.form.get(field, agency)
                chosen = self.agency_fates.get(chosen) or chosen  # a merged agency's cells go to the one it joined
                if chosen not in active:
                    self.error(field, "Chọn một cơ quan đang hoạt động.")
                if district == ANY_DISTRICT:
                    routes[category][district] = chosen
                elif district in self.districts:
                    routes[category][self.districts[district]] = chosen
            if self.new_district:  # routed like an unknown district until the admin says otherwise
                routes[category][self.new_district] = routes[category][ANY_DISTRICT]
        return routes

    def table_document(self) -> dict:
        now = time.time()
        retired = dict(self.table.retired_agencies)
        for key, target in self.agency_fates.items():
            retired[key] = {"name": self.agencies[key], "merged_into": target, "ts": now}
        aliases = dict(self.table.district_aliases)
        aliases.update({old: new for old, new in self.districts.items() if new != old})
        aliases.update({old: self.districts[target] for old, target in self.district_fates.items() if target})
        return {"agencies": {k: v for k, v in self.agencies.items() if k not in self.agency_fates},
                "retired_agencies": retired, "routes": self.routes, "sla_hours": self.sla,
                "phones": {k: v for k, v in self.phones.items() if k not in self.agency_fates},
                "district_aliases": aliases,
                "retired_districts": [*self.table.retired_districts,
                                      *(d for d, target in self.district_fates.items() if target is None)]}


def _move_merged_agencies(fates: dict[str, str | None], table: dict) -> tuple[int, int]:
    """The open cases and staff accounts of merged agencies go to the agency they joined."""
    cases = accounts = 0
    for old, target in fates.items():
        if target is None:
            continue
        found, _ = repository().find_cases(agency=old, statuses=list(OPEN_STATUSES), limit=100_000)
        note = f"{table['retired_agencies'][old]['name']} sáp nhập vào {table['agencies'][target]}"
        for case in found:
            case_actions.move_to_agency(repository(), case["code"], target, table["agencies"][target],
                                        by=current_user.username, note=note)
        for account in repository().list_staff():
            if account.get("agency") == old:
                repository().update_staff(account["username"], agency=target)
                accounts += 1
        cases += len(found)
    return cases, accounts


@console.route("/admin/routing", methods=["GET", "POST"])
@roles("admin")
def routing_settings():
    table = routing()
    form, edit = ActionForm(), None
    if form.validate_on_submit():
        edit = Edit(request.form, table)
        if not edit.errors:
            before, edited = table.to_document(), edit.table_document()
            repository().save_routing_table(edited)
            moved_cases, moved_accounts = _move_merged_agencies(edit.agency_fates, edited)
            changed = [key for key in edited if edited[key] != before.get(key)]
            audit("routing.update", "routing", {k: before.get(k) for k in changed}, {k: edited[k] for k in changed})
            flash("Đã lưu. Hồ sơ mới được phân công theo bảng này ngay từ bây giờ."
                  + (f" Đã chuyển {moved_cases} hồ sơ đang mở và {moved_accounts} tài khoản sang cơ quan nhận sáp nhập."
                     if moved_cases or moved_accounts else "")
                  + (f" Đã thêm {edit.new_district}: kiểm tra phân công của huyện này bên dưới." if edit.new_district else ""),
                  "info")
            return redirect(url_for("console.routing_settings"))
        flash(f"Chưa lưu: {len(edit.errors)} ô cần sửa (đánh dấu đỏ bên dưới); các thay đổi khác vẫn được giữ "
              "trên trang.", "error")
    posted = request.form if edit else {}
    return render_template(
        "console/routing.html", table=table, form=form, errors=edit.errors if edit else {},
        value=lambda name, default: posted.get(name, default),
        categories=[(key, texts.CATEGORY_NAMES[key]) for key in table.routes],
        sla_keys=[(key, texts.CATEGORY_NAMES.get(key, "Hồ sơ khẩn (mọi loại)")) for key in SLA_KEYS],
        any_district=ANY_DISTRICT, retired_districts=table.retired_districts,
        aliases=sorted(table.district_aliases.items()))
