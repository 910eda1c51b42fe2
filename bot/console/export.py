"""The case list as a file: an Excel workbook (columns whatever the computer's list separator;
Vietnamese Excel reads a comma-separated file as one column) or CSV. Citizens write what they like,
`=HYPERLINK("http://…")` included: no cell is ever a formula. In the workbook every cell is
written as text; in CSV a cell that a spreadsheet would read as a formula (= + - @, tab, CR) is
escaped with a leading apostrophe (OWASP's CSV injection advice)."""
from __future__ import annotations

import csv
import io

import xlsxwriter

from bot import texts
from bot.console import format as vn

HEADER = ["Mã hồ sơ", "Ngày tiếp nhận", "Loại", "Trạng thái", "Ưu tiên", "Huyện", "Cơ quan xử lý", "Hạn xử lý",
          "Quá hạn", "Kênh", "Số điện thoại", "Nội dung"]
WIDTHS = [11, 17, 18, 16, 8, 18, 30, 17, 8, 10, 14, 80]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def rows(cases: list[dict]) -> list[list[str]]:
    return [[case["code"], vn.vn_datetime(case.get("created_ts")),
             texts.CATEGORY_NAMES.get(case["category"], case["category"]),
             texts.STATUS_NAMES.get(case["status"], case["status"]),
             "Khẩn" if case.get("priority") == "urgent" else "Thường", case.get("district") or "",
             case.get("agency_name") or "", vn.vn_datetime(case.get("due_ts")),
             "Có" if vn.is_overdue(case) else "Không", vn.CHANNEL_NAMES.get(case["channel"], ""),
             vn.mask_phone((case.get("details") or {}).get("phone")), case.get("description") or ""]
            for case in cases]


def inert(value: str) -> str:
    """A CSV cell a spreadsheet shows as the text it is."""
    return "'" + value if value.startswith(FORMULA_START) else value


def as_csv(table: list[list[str]]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8, Vietnamese intact
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows([inert(str(cell)) for cell in row] for row in table)
    return out.getvalue().encode("utf-8")


def as_xlsx(table: list[list[str]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    sheet = book.add_worksheet("Hồ sơ")
    bold = book.add_format({"bold": True})
    for column, (title, width) in enumerate(zip(HEADER, WIDTHS)):
        sheet.write_string(0, column, title, bold)
        sheet.set_column(column, column, width)
    for number, row in enumerate(table, start=1):
        for column, cell in enumerate(row):
            sheet.write_string(number, column, str(cell))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(table), len(HEADER) - 1)
    book.close()
    return out.getvalue()
