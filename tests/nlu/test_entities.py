"""nlu/entities.py: the deterministic extractor, pure Python, run in the app environment."""
import json
import subprocess
import time
import unicodedata
from collections import Counter

import pytest

from nlu.entities import PLACES, EntityExtractor, canonical_phone
from nlu.text import strip_diacritics

REPO_ROOT = PLACES.parent.parent


@pytest.fixture(scope="module")
def places():
    try:
        import yaml
    except ImportError:  # the app environment has no YAML parser: the Rasa environment reads it
        code = ("import json, yaml, sys; "
                "print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))")
        run = subprocess.run([str(REPO_ROOT / ".venv-nlu" / "bin" / "python"), "-c", code, str(PLACES)],
                             capture_output=True, text=True, check=True)
        return json.loads(run.stdout)
    return yaml.safe_load(PLACES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def extract(places):
    extractor = EntityExtractor(places)

    def extract(text, entity=None):
        found = extractor.extract(text)
        for e in found:  # offsets point into the text as given
            assert 0 <= e["start"] < e["end"] <= len(text)
        return [e["value"] for e in found if entity in (None, e["entity"])]
    return extract


def test_places_table_has_the_106_units_of_2021(places):
    districts = places["districts"]
    communes = [c if isinstance(c, str) else c["name"] for d in districts for c in d["communes"]]
    assert len(districts) == 9 and len(communes) == 106
    kinds = Counter(name.split()[0] if not name.startswith("Thị trấn") else "Thị trấn" for name in communes)
    assert kinds == {"Xã": 85, "Phường": 11, "Thị trấn": 10}
    for district in districts:
        names = [c if isinstance(c, str) else c["name"] for c in district["communes"]]
        assert len(names) == len(set(names)), district["name"]


@pytest.mark.parametrize("text, value", [
    ("ở TP Trà Vinh", "Thành phố Trà Vinh"),
    ("o tp tv", "Thành phố Trà Vinh"),
    ("tptv", "Thành phố Trà Vinh"),
    ("thành phố trà vinh", "Thành phố Trà Vinh"),
    ("thị xã Trà Vinh (tên cũ)", "Thành phố Trà Vinh"),
    ("chợ Càng Long", "Huyện Càng Long"),
    ("cang long", "Huyện Càng Long"),
    ("huyện Cầu Kè", "Huyện Cầu Kè"),
    ("tieu can", "Huyện Tiểu Cần"),
    ("CHÂU THÀNH", "Huyện Châu Thành"),
    ("cau ngang", "Huyện Cầu Ngang"),
    ("Trà Cú", "Huyện Trà Cú"),
    ("huyen duyen hai", "Huyện Duyên Hải"),
    ("h. Duyên Hải", "Huyện Duyên Hải"),
    ("tx duyen hai", "Thị xã Duyên Hải"),
    ("thi xa duyen hai", "Thị xã Duyên Hải"),
    ("TXDH", "Thị xã Duyên Hải"),
])
def test_district_spellings(extract, text, value):
    assert extract(text, "district") == [value]


def test_bare_duyen_hai_is_the_huyen_unless_a_commune_says_otherwise(extract):
    assert extract("biển Duyên Hải", "district") == ["Huyện Duyên Hải"]
    assert extract("xa Long Huu, Duyen Hai", "district") == ["Thị xã Duyên Hải"]
    assert extract("phường 1 Duyên Hải") == ["Phường 1, Thị xã Duyên Hải", "Thị xã Duyên Hải"]


def test_the_province_name_alone_is_no_district(extract):
    assert extract("tỉnh Trà Vinh") == []


@pytest.mark.parametrize("text, value", [
    ("khóm 3 phường 7", "Phường 7, Thành phố Trà Vinh"),
    ("p7", "Phường 7, Thành phố Trà Vinh"),
    ("xa Long Duc", "Xã Long Đức, Thành phố Trà Vinh"),
    ("ấp Bến Có xã Nguyệt Hóa", "Xã Nguyệt Hóa, Huyện Châu Thành"),
    ("Hiệp Mỹ Đông", "Xã Hiệp Mỹ Đông, Huyện Cầu Ngang"),
    ("xã An Trường A", "Xã An Trường A, Huyện Càng Long"),
    ("xã An Trường", "Xã An Trường, Huyện Càng Long"),
    ("thị trấn Càng Long", "Thị trấn Càng Long, Huyện Càng Long"),
    ("tt cau quan", "Thị trấn Cầu Quan, Huyện Tiểu Cần"),
    ("TRƯỜNG LONG HÒA", "Xã Trường Long Hòa, Thị xã Duyên Hải"),
    ("Trường Long Hoà", "Xã Trường Long Hòa, Thị xã Duyên Hải"),  # old tone-mark placement
    ("phuong 1 tx duyen hai", "Phường 1, Thị xã Duyên Hải"),
    ("thị trấn Duyên Hải", "Phường 1, Thị xã Duyên Hải"),  # the name until 2015
    ("xã Phong Phú", "Xã Phong Phú, Huyện Cầu Kè"),
])
def test_commune_spellings(extract, text, value):
    assert extract(text, "commune") == [value]


def test_a_commune_brings_its_district_when_none_is_named(extract):
    assert extract("khóm 3 phường 7", "district") == ["Thành phố Trà Vinh"]
    assert extract("xã Long Đức, Châu Thành", "district") == ["Huyện Châu Thành"]  # as said


def test_ambiguous_commune_names(extract):
    assert extract("phường 2") == ["Phường 2"]  # TP Trà Vinh or thị xã Duyên Hải
    assert extract("Định An") == ["Huyện Trà Cú"]  # xã or thị trấn Định An, both in Trà Cú


@pytest.mark.parametrize("text", [
    "ấp Long Hòa",  # a hamlet, not xã Long Hòa
    "thuốc hòa tan",  # not xã Hòa Tân
    "sống hòa thuận với nhau",
    "khu vực phụ cận",  # not xã Phú Cần
    "hàng hóa phong phú",
    "mới về từ Tân Bình",  # Hồ Chí Minh City
])
def test_common_words_are_not_places(extract, text):
    assert extract(text) == []


@pytest.mark.parametrize("text, value", [
    ("sdt 0912 345 678", "0912345678"),
    ("0912.345.678", "0912345678"),
    ("0912-345-678", "0912345678"),
    ("+84 912 345 678", "0912345678"),
    ("+84912345678", "0912345678"),
    ("84912345678", "0912345678"),
    ("sđt0987654321", "0987654321"),
    ("(0294) 3855 123", "02943855123"),
    ("0294.3855.123", "02943855123"),
    ("+84 294 3855 123", "02943855123"),
    ("0912345678 2 người", "0912345678"),
])
def test_phone_numbers(extract, text, value):
    assert extract(text, "phone") == [value]


@pytest.mark.parametrize("text", ["tổng đài 1022", "giá 250.000 đồng", "ngày 20/11/2021", "0123",
                                  "1900 1234"])
def test_numbers_that_are_no_phone(extract, text):
    assert extract(text, "phone") == []


def test_two_numbers_and_repeats(extract):
    assert extract("gọi 0912345678 hoặc 0987 654 321, lại là 0912.345.678", "phone") == \
        ["0912345678", "0987654321"]
    assert canonical_phone("840912345678") == "0912345678"


@pytest.mark.parametrize("text", ["TV-8HK3MA", "tv-8hk3ma", "tv8hk3ma", "Mã TV 8HK3MA", "tv 8hk3ma ạ"])
def test_case_codes(extract, text):
    assert extract(text, "case_code") == ["TV-8HK3MA"]


@pytest.mark.parametrize("text", ["TV-8HK3MO", "TV-8HK3M", "tv truyền hình", "tv truyen hinh",
                                  "xem tv nhanh"])
def test_no_case_code(extract, text):
    assert extract(text, "case_code") == []


@pytest.mark.parametrize("text, value", [
    ("hôm qua", "hôm qua"), ("Tối nay", "tối nay"), ("toi qua", "toi qua"), ("sáng mai", "sáng mai"),
    ("lúc 8h tối", "8h tối"), ("20h30", "20h30"), ("20:30", "20:30"), ("ngày 20/11", "ngày 20/11"),
    ("thứ 7 tuần trước", "thứ 7 tuần trước"), ("chủ nhật", "chủ nhật"), ("tối hôm qua", "tối hôm qua"),
    ("bữa hổm", "bữa hổm"), ("hồi chiều", "hồi chiều"), ("8 giờ sáng mai", "8 giờ sáng mai"),
    # the day and the hour are one time: the hour is never dropped (issue 11)
    ("tối nay lúc 7 giờ", "tối nay lúc 7 giờ"), ("toi nay luc 7h tui thay", "toi nay luc 7h"),
    ("hôm qua, khoảng 8h tối", "hôm qua, khoảng 8h tối"), ("chiều qua tầm 3h", "chiều qua tầm 3h"),
])
def test_time_expressions(extract, text, value):
    assert extract(text, "time") == [value]


@pytest.mark.parametrize("text", ["tôi qua nhà hàng xóm", "thu 2 trieu dong", "xem tivi", "quá tối"])
def test_no_time(extract, text):
    assert extract(text, "time") == []


def test_offsets_on_decomposed_and_zero_width_text(places):
    text = unicodedata.normalize("NFD", "Tối qua ở Cầu Kè") + " sđt 0912\u200b345678"
    found = EntityExtractor(places).extract(text)
    spans = {e["entity"]: strip_diacritics(unicodedata.normalize("NFC", text[e["start"]:e["end"]]))
             for e in found}
    assert spans == {"time": "Toi qua", "district": "Cau Ke", "phone": "0912\u200b345678"}


def test_each_entity_once_in_text_order(extract):
    assert extract("Cầu Kè, cau ke, huyện Cầu Kè; tối qua và tối qua") == ["Huyện Cầu Kè", "tối qua"]


def test_long_and_odd_input_is_quick(extract):
    started = time.monotonic()
    for text in ["a" * 10_000, "1" * 10_000, "phản ánh ở Cầu Kè " * 600, "ខ្ញុំចង់រាយការណ៍", "🙏😷", ""]:
        extract(text)
    assert time.monotonic() - started < 2


def test_a_numbered_item_with_a_colon_is_no_time(extract):
    assert extract("Phản ánh số 1: nhóm người tụ tập nhậu", "time") == []
    assert extract("lúc 20:30 tối qua", "time") == ["20:30 tối qua"]


# ---- welfare: the person's name, their situation, what they ask for --------------------------

WELFARE = ("Tôi tên Nguyễn Văn Tám, ở ấp Chợ, xã Đại Phước, huyện Càng Long, sđt 0912345678, mất việc do dịch, "
           "xin hỗ trợ gạo và tiền mặt")


def test_a_welfare_message_with_everything(extract, places):
    found = EntityExtractor(places).extract(WELFARE)
    assert [(e["entity"], e["value"], WELFARE[e["start"]:e["end"]]) for e in found] == [
        ("person_name", "Nguyễn Văn Tám", "Nguyễn Văn Tám"),
        ("commune", "Xã Đại Phước, Huyện Càng Long", "xã Đại Phước"),
        ("district", "Huyện Càng Long", "huyện Càng Long"),
        ("phone", "0912345678", "0912345678"),
        ("situation", "mất việc", "mất việc"),
        ("support_request", "gạo và tiền mặt", "gạo và tiền mặt"),
    ]


@pytest.mark.parametrize("text, value", [
    ("Tôi tên Nguyễn Văn Tám, ở ấp Chợ", "Nguyễn Văn Tám"),
    ("tôi tên là Trần Thị Bé ở Cầu Kè", "Trần Thị Bé"),
    ("Tên tôi là Lê Văn Hai sinh năm 1970", "Lê Văn Hai"),
    ("em tên Phạm Ngọc Hân sđt 0912345678", "Phạm Ngọc Hân"),
    ("Tôi là Nguyễn Văn Tư, bán vé số", "Nguyễn Văn Tư"),
    ("Họ và tên: Thạch Thị Sa Rênh", "Thạch Thị Sa Rênh"),  # Khmer names: Thạch, Kim, Sơn, Danh...
    ("họ tên:trần văn ba", "Trần Văn Ba"),  # lower case, after an explicit cue, with a surname
    ("Em tên Kim Thị Sóc Khanh xin được hỗ trợ", "Kim Thị Sóc Khanh"),
    ("xin hỗ trợ cho mẹ tôi là Trần Thị Bé, bị F0", "Trần Thị Bé"),
    ("con tên Danh Hoàng Sơn", "Danh Hoàng Sơn"),
    ("tôi là lê văn năm", "Lê Văn Năm"),  # diacritics make "tôi là" + a surname enough
    ("toi ten la tran thi be o ap cho", "Tran Thi Be"),  # no diacritics: an explicit "tên" cue
    ("ho ten nguyen van tam, sdt 0912345678", "Nguyen Van Tam"),
    ("HỌ TÊN: NGUYỄN VĂN TÁM", "Nguyễn Văn Tám"),
    ("Tôi tên Huỳnh Thị Ngọc Bích Trâm", "Huỳnh Thị Ngọc Bích Trâm"),  # up to 5 syllables
    ("tôi tên Nguyễn Văn Tám Càng Long", "Nguyễn Văn Tám"),  # a place ends it
    ("tôi tên Nguyễn Văn Hoà", "Nguyễn Văn Hòa"),  # one tone-mark placement
    ("tôi là ông Nguyễn Văn Tám", "Nguyễn Văn Tám"),  # the title is no part of the name
])
def test_person_names(extract, text, value):
    assert extract(text, "person_name") == [value]


@pytest.mark.parametrize("text", [
    "tôi là công nhân, mất việc",
    "Tôi là Công Nhân",  # capitals after "tôi là" still need a surname
    "toi la tran thi be",  # "tôi là" without capitals or diacritics: too easily something else
    "toi la lam thue, xin gao",
    "tôi là làm thuê",  # làm is no Lâm
    "em tên Tám",  # one syllable
    "tôi tên nguyễn",
    "tôi tên Nguyễn Thị, ở Cầu Kè",  # what is left is no name
    "Tôi Là Người Dân ở Cầu Kè",
    "tôi muốn phản ánh nhà ông Nguyễn Văn A tụ tập",  # no cue
    "tôi là người dân, có con bị F0",
    "tên tôi là 0912345678",
    "tôi là bà nội của cháu", "tôi là dương tính", "tôi là thân nhân của bệnh nhân",
])
def test_no_person_name(extract, text):
    assert extract(text, "person_name") == []


def test_a_name_from_decomposed_text_is_nfc_with_offsets_into_the_text_as_given(places):
    text = unicodedata.normalize("NFD", "tôi tên nguyễn\u200b văn tám, xin hỗ trợ gạo")
    found = {e["entity"]: e for e in EntityExtractor(places).extract(text)}
    name = found["person_name"]
    assert name["value"] == "Nguyễn Văn Tám" and unicodedata.is_normalized("NFC", name["value"])
    assert unicodedata.normalize("NFC", text[name["start"]:name["end"]]).replace("\u200b", "") == "nguyễn văn tám"
    assert found["support_request"]["value"] == "gạo"
    assert unicodedata.normalize("NFC", text[found["support_request"]["start"]:found["support_request"]["end"]]) == "gạo"


@pytest.mark.parametrize("text, values", [
    ("mất việc do dịch", ["mất việc"]),
    ("mat viec lam", ["mất việc"]),
    ("tôi bị thất nghiệp", ["thất nghiệp"]),
    ("công ty cho nghỉ việc", ["nghỉ việc"]),
    ("mất thu nhập vì dịch", ["không có thu nhập"]),
    ("khong co thu nhap", ["không có thu nhập"]),
    ("nhà có 2 F0, 1 f1", ["F0", "F1"]),
    ("đang cách ly tại nhà", ["cách ly tại nhà"]),
    ("cach ly tap trung", ["cách ly tập trung"]),
    ("ấp tôi bị phong toả", ["bị phong tỏa"]),  # the other tone-mark placement
    ("nha em thuoc ho ngheo", ["hộ nghèo"]),
    ("hộ cận nghèo", ["hộ cận nghèo"]),
])
def test_situations(extract, text, values):
    assert extract(text, "situation") == values


@pytest.mark.parametrize("text", ["mát việc", "cách đây 2 ngày", "hộ khẩu thường trú", "nghèo quá", "F5",
                                  "không có thời gian"])
def test_no_situation(extract, text):
    assert extract(text, "situation") == []


@pytest.mark.parametrize("text, value", [
    ("xin hỗ trợ gạo và tiền mặt", "gạo và tiền mặt"),
    ("xin hỗ trợ gạo, mì gói và tiền mặt ạ", "gạo, mì gói và tiền mặt"),
    ("xin được hỗ trợ gạo với tiền để nuôi con", "gạo với tiền"),
    ("đề nghị hỗ trợ gạo - mì gói - dầu ăn", "gạo - mì gói - dầu ăn"),
    ("cần hỗ trợ thực phẩm, nhà có 3 người", "thực phẩm"),
    ("mong được hỗ trợ tiền điện", "tiền điện"),
    ("mong được nhu yếu phẩm", "nhu yếu phẩm"),
    ("cho em xin ít gạo với", "gạo"),
    ("tôi cần thuốc hạ sốt", "thuốc hạ sốt"),
    ("xin hỗ trợ cho gia đình tôi gạo", "gạo"),
    ("đề nghị hỗ trợ theo Nghị quyết 68 cho lao động tự do", "theo Nghị quyết 68"),
    ("xin hỗ trợ tiền mặt 0912345678", "tiền mặt"),  # a phone number ends it
    ("xin ho tro gao, sdt 0912345678", "gao"),
    ("xin hỗ trợ gạo. Cảm ơn", "gạo"),
    ("XIN HỖ TRỢ GẠO", "GẠO"),  # as typed
    ("xin hỗ trợ chút gạo mì", "gạo mì"),
    ("Hồ sơ xin hỗ trợ gạo nộp 3 hôm rồi chưa thấy gì", "gạo"),
])
def test_support_requests(extract, text, value):
    assert extract(text, "support_request") == [value]


@pytest.mark.parametrize("text", [
    "tôi muốn xin hỗ trợ", "xin hỗ trợ gì ạ", "cần hỗ trợ gì", "xin hỏi có được hỗ trợ gì không",
    "xin hỗ trợ cho gia đình tôi", "xin gáo", "tôi xin phản ánh", "nhà không có tiền mua gạo",
    "xin hỗ trợ, sđt 0912345678", "cần hỗ trợ gấp", "xin cứu trợ, nhà có người già bệnh tim",
    "xin giúp đỡ gia đình ông", "XIN GIUP DO NHA TOI HET GAO 3 NGAY NAY", "xin hỗ trợ cho bà cụ hàng xóm",
    "kiếm tiền online tại nhà, không cần vốn",
])
def test_no_support_request(extract, text):
    assert extract(text, "support_request") == []


def test_long_welfare_text_is_quick(extract):
    started = time.monotonic()
    for text in [WELFARE * 40, "tôi tên " * 1500, "xin hỗ trợ gạo và " * 600, "Nguyễn " * 2000]:
        extract(text)
    assert time.monotonic() - started < 2
