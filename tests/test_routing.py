"""The routing table (data/agencies.yml): category x district -> agency, with due times."""
import pytest

from bot.routing import RoutingTable

DISTRICTS = ["Thành phố Trà Vinh", "Huyện Càng Long", "Huyện Cầu Kè", "Huyện Tiểu Cần", "Huyện Châu Thành",
             "Huyện Cầu Ngang", "Huyện Trà Cú", "Huyện Duyên Hải", "Thị xã Duyên Hải"]


@pytest.fixture(scope="module")
def table():
    return RoutingTable.load()


@pytest.mark.parametrize("district", DISTRICTS)
def test_every_district_has_its_own_agency_for_reports_welfare_and_health(table, district):
    agencies = {table.route(category, district).agency_name for category in ("report", "welfare", "health_advice")}
    assert len(agencies) == 3 and all(district.split(" ", 1)[1] in name for name in agencies)


def test_huyen_and_thi_xa_duyen_hai_are_different_agencies(table):
    assert table.route("report", "Huyện Duyên Hải").agency != table.route("report", "Thị xã Duyên Hải").agency


def test_unknown_district_goes_to_the_provincial_agency(table):
    assert table.route("report", None).agency == "bcd_tinh"
    assert table.route("welfare", "Huyện Không Có").agency == "so_ldtbxh"
    assert table.route("suggestion", "Huyện Cầu Kè").agency == "so_tttt"


def test_due_times_per_category_and_urgent(table):
    assert table.route("report", None).due_hours == 24
    assert table.route("health_advice", None, urgent=True).due_hours == 1
