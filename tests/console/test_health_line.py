"""The district health centre's number reaches a citizen in danger only once an admin has entered
it (issue 11: never an invented number); a malformed number is refused with the field marked."""
from bot.routing import RoutingTable
from tests.conftest import post_zalo
from tests.console.test_console import CITIZEN, post_form, routing_form, signed_in, zalo_text

DANGER = "ba tui o xa Hoa An huyen Cau Ke, tho hong noi, spo2 88"


def test_the_health_centre_number_entered_by_an_admin_goes_with_the_115_advice(app, client, staff, repository,
                                                                              worker, fake_zalo):
    assert post_zalo(client, zalo_text(DANGER, "z-danger-1")).status_code == 200
    worker.drain()
    [before] = fake_zalo.texts_to(CITIZEN)
    assert "115" in before and "Trung tâm Y tế huyện Cầu Kè" not in before  # nothing entered: nothing named

    admin = signed_in(app, "quantri")
    table = RoutingTable.load()
    refused = post_form(admin, "/console/admin/routing", "/console/admin/routing",
                        routing_form(table, **{"phone-ttyt_cau_ke": "gọi 115"}))
    assert 'class="flash error"' in refused.get_data(as_text=True) and repository.routing_table() is None
    post_form(admin, "/console/admin/routing", "/console/admin/routing",
              routing_form(table, **{"phone-ttyt_cau_ke": "0294 3834 115"}))
    assert RoutingTable.current(repository).phones == {"ttyt_cau_ke": "0294 3834 115"}

    repository.set_handler("zalo", CITIZEN, "bot")
    repository.cases.delete_many({})
    assert post_zalo(client, zalo_text(DANGER, "z-danger-2")).status_code == 200
    worker.drain()
    after = fake_zalo.texts_to(CITIZEN)[-1]
    assert "Trung tâm Y tế huyện Cầu Kè (số 0294 3834 115)" in after and after.index("115") < after.index("0294")
