"""Every sentence the bot sends a citizen. Tổng đài 1022 speaks politely: it calls itself
"Tổng đài 1022" and addresses the citizen as "anh/chị"."""
from datetime import datetime, timedelta, timezone

import yaml

from bot.config import REPO_ROOT

# Stands for PUBLIC_URL in what the bot sends (the pipeline puts the address in, as it does the code).
SITE = "{site}"

# Reviewed separately by a Khmer speaker (see the file).
KHMER = yaml.safe_load((REPO_ROOT / "data" / "khmer.yml").read_text(encoding="utf-8"))

CATEGORY_NAMES = {
    "report": "phản ánh vi phạm phòng, chống dịch",
    "suggestion": "góp ý, kiến nghị",
    "welfare": "đề nghị hỗ trợ an sinh",
    "health_advice": "tư vấn sức khỏe",
}

STATUS_NAMES = {
    "new": "đã tiếp nhận",
    "routed": "đã chuyển cơ quan chức năng",
    "in_progress": "đang xử lý",
    "resolved": "đã xử lý xong",
    "not_responsible": "không thuộc thẩm quyền",
    "duplicate": "trùng với hồ sơ khác",
    "reopened": "đã mở lại",
    "withdrawn": "đã được người gửi rút lại",
}

SERVICES = (
    "Tổng đài 1022 tỉnh Trà Vinh tiếp nhận:\n"
    "1. Phản ánh vi phạm phòng, chống dịch\n"
    "2. Góp ý, kiến nghị\n"
    "3. Đề nghị hỗ trợ an sinh khi bị ảnh hưởng bởi dịch\n"
    "4. Tư vấn sức khỏe\n"
    "Anh/chị vui lòng nhắn nội dung cần gửi."
)

# Offered as buttons (Messenger quick replies, web chat buttons); titles at most 20 characters.
CATEGORY_PAYLOAD = "CATEGORY_"
SERVICE_CHOICES = (("Phản ánh vi phạm", "CATEGORY_report"), ("Góp ý, kiến nghị", "CATEGORY_suggestion"),
                   ("Hỗ trợ an sinh", "CATEGORY_welfare"), ("Tư vấn sức khỏe", "CATEGORY_health_advice"))

ASK_DETAILS = {
    "report": ("Anh/chị vui lòng mô tả vi phạm: việc gì, ở đâu (ấp/khóm, xã/phường, huyện), khi nào. "
               "Anh/chị có thể gửi kèm ảnh. Thông tin người phản ánh được giữ bí mật."),
    "suggestion": "Anh/chị vui lòng nhắn nội dung góp ý, kiến nghị của mình.",
    "welfare": ("Anh/chị vui lòng cho biết hoàn cảnh (mất việc, cách ly, khó khăn…), họ tên, số điện thoại, "
                "địa chỉ và đề nghị hỗ trợ gì."),
    "health_advice": "Anh/chị vui lòng mô tả câu hỏi hoặc triệu chứng cần tư vấn.",
}

GREETING = "Tổng đài 1022 xin chào anh/chị. " + SERVICES

NOT_UNDERSTOOD = "Tổng đài 1022 chưa hiểu rõ nội dung anh/chị gửi. " + SERVICES

HANDOFF_REASONS = {
    "ask_human": "Tổng đài 1022 đã chuyển cuộc trò chuyện đến cán bộ trực tổng đài.",
    "not_understood": ("Tổng đài 1022 chưa hiểu rõ nội dung anh/chị gửi nên đã chuyển cuộc trò chuyện "
                       "đến cán bộ trực tổng đài."),
    "khmer": "Tổng đài 1022 đã chuyển tin nhắn của anh/chị đến cán bộ trực tổng đài.",
}


def _hours(hours: str) -> str:
    return hours.replace("-", "–")


def handoff(reason: str, working_hours_now: bool, hours: str) -> str:
    wait = ("Cán bộ sẽ trả lời anh/chị tại đây trong ít phút, anh/chị vui lòng chờ."
            if working_hours_now else
            f"Hiện ngoài giờ trực ({_hours(hours)}); cán bộ sẽ trả lời anh/chị tại đây vào đầu giờ "
            "trực tiếp theo. Trường hợp khẩn cấp, anh/chị gọi 115 (cấp cứu) hoặc 113 (công an).")
    text = f"{HANDOFF_REASONS[reason]} {wait}"
    return f"{text}\n\n{KHMER['handoff']}" if reason == "khmer" else text


def handoff_ack(working_hours_now: bool, hours: str) -> str:
    """A message written while the chat waits for a person (at most once every ten minutes)."""
    if working_hours_now:
        return "Tổng đài 1022 đã nhận tin nhắn. Cán bộ trực tổng đài sẽ trả lời anh/chị tại đây, anh/chị vui lòng chờ."
    return (f"Tổng đài 1022 đã nhận tin nhắn. Hiện ngoài giờ trực ({_hours(hours)}), cán bộ sẽ trả lời anh/chị "
            "vào đầu giờ trực tiếp theo. Trường hợp khẩn cấp, anh/chị gọi 115.")


EMERGENCY_ADVICE = ("Các dấu hiệu anh/chị mô tả có thể nguy hiểm. Anh/chị gọi ngay cấp cứu 115 hoặc đến cơ sở "
                    "y tế gần nhất; trong lúc chờ, cho người bệnh nằm nghỉ ở tư thế dễ thở (nằm sấp hoặc "
                    "nửa nằm nửa ngồi), không để người bệnh ở một mình.")


def emergency(health_line: str | None, working_hours_now: bool, hours: str, knows_place: bool) -> str:
    """Danger signs: 115 first, the district health centre's number only when staff entered it,
    and one honest sentence about who will answer (no promise of an officer at night)."""
    text = EMERGENCY_ADVICE
    if health_line:
        text += f" Anh/chị cũng có thể gọi {health_line}."
    if working_hours_now:
        text += ("\n\nTổng đài 1022 đã lập hồ sơ khẩn {code} và chuyển ngay đến cán bộ y tế trực; cán bộ sẽ "
                 "nhắn cho anh/chị tại đây. Anh/chị đừng chờ tin nhắn mà hãy gọi 115 trước.")
    else:
        text += (f"\n\nTổng đài 1022 đã lập hồ sơ khẩn {{code}}. Hiện ngoài giờ trực ({_hours(hours)}) nên cán bộ "
                 "có thể trả lời chậm: anh/chị đừng chờ tin nhắn, hãy gọi ngay 115.")
    if not knows_place:
        text += " Anh/chị nhắn giúp địa chỉ người bệnh (ấp/khóm, xã/phường, huyện) để tổng đài chuyển đúng nơi."
    return text


def urgent_ack(working_hours_now: bool) -> str:
    """A message added to an urgent case while nobody has taken the chat yet (once a minute)."""
    who = ("cán bộ y tế trực sẽ nhắn anh/chị tại đây" if working_hours_now
           else "ngoài giờ trực cán bộ có thể trả lời chậm")
    return (f"Tổng đài 1022 đã nhận và bổ sung vào hồ sơ khẩn; {who}. Nếu người bệnh khó thở hơn, tím tái hoặc "
            "lơ mơ, anh/chị gọi ngay 115 hoặc đưa người bệnh đến cơ sở y tế gần nhất.")


def emergency_line_failed(health_line: str | None) -> str:
    other = f"gọi {health_line}, " if health_line else ""
    return (f"Nếu chưa gọi được 115, anh/chị {other}gọi lại 115 nhiều lần, nhờ người nhà hoặc hàng xóm đưa người "
            "bệnh đến trạm y tế xã hoặc bệnh viện gần nhất ngay, hoặc gọi 113 để được hỗ trợ. Tổng đài 1022 đã "
            "báo khẩn cho cán bộ.")

THANKS = "Tổng đài 1022 cảm ơn anh/chị. Anh/chị cần hỗ trợ thêm, xin cứ nhắn cho tổng đài."

OFF_TOPIC_REPLY = "Dạ, nội dung này nằm ngoài phạm vi của Tổng đài 1022."
INSULT_REPLY = ("Tổng đài 1022 luôn sẵn sàng hỗ trợ anh/chị. Mong anh/chị nhắn nội dung cần hỗ trợ "
                "để tổng đài giúp được nhanh nhất.")


GOODBYE = "Tổng đài 1022 cảm ơn anh/chị đã liên hệ. Chúc anh/chị nhiều sức khỏe."

BOT_CHALLENGE = ("Dạ, đây là trợ lý tự động của Tổng đài 1022. Anh/chị cần gặp cán bộ trực tổng đài, "
                 "xin nhắn \"gặp cán bộ\".")

ACKNOWLEDGED = "Dạ, Tổng đài 1022 đã rõ. Anh/chị cần hỗ trợ gì thêm, xin cứ nhắn cho tổng đài."

NOTHING_TO_CANCEL = ("Hiện anh/chị không có yêu cầu nào đang soạn để hủy. "
                     "Anh/chị cần hỗ trợ gì, xin cứ nhắn cho tổng đài.")

ASK_CASE_CODE = ("Anh/chị vui lòng gửi mã hồ sơ (dạng TV-XXXXXX) mà Tổng đài 1022 đã cung cấp "
                 "để tra cứu tình trạng xử lý.")
INVALID_CODE = ("Mã {code} không hợp lệ: mã hồ sơ có dạng TV- và 6 ký tự (chữ in hoa và số, không có số 0, "
                "số 1, chữ O, chữ I), ví dụ TV-8HK3MA. Anh/chị kiểm tra lại giúp, hoặc nhắn \"quên mã\" để "
                "xem các hồ sơ đã gửi từ tài khoản này.")
NO_OWN_CASES = ("Tổng đài 1022 chưa nhận hồ sơ nào gửi từ tài khoản này. Nếu anh/chị gửi từ tài khoản khác, "
                "xin nhắn mã hồ sơ kèm số điện thoại đã để lại khi gửi.")


def own_cases(cases: list[tuple[str, str, str]]) -> str:
    lines = [f"- {code}: {CATEGORY_NAMES[category]}, {STATUS_NAMES.get(status, status)}"
             for code, category, status in cases]
    return "Các hồ sơ anh/chị đã gửi từ tài khoản này:\n" + "\n".join(lines) + \
        f"\nAnh/chị nhắn mã hồ sơ để xem chi tiết, hoặc tra cứu tại: {SITE}/tra-cuu"


WITHDRAWN = ("Tổng đài 1022 đã rút hồ sơ {code} theo yêu cầu của anh/chị; cơ quan chức năng sẽ không xử lý "
             "hồ sơ này nữa. Khi cần, anh/chị có thể gửi lại bất cứ lúc nào.")
ALREADY_WITHDRAWN = "Hồ sơ {code} đã được rút trước đó."
CANNOT_WITHDRAW = ("Hồ sơ {code} hiện {status} nên không thể tự rút lại. Anh/chị cần rút, xin nhắn "
                   "\"gặp cán bộ\" để cán bộ hỗ trợ.")
NO_CASE_TO_WITHDRAW = "Tổng đài 1022 không thấy hồ sơ nào anh/chị đã gửi để rút lại."
ADDED_TO_CASE = "Tổng đài 1022 đã bổ sung nội dung này vào hồ sơ {code} của anh/chị."

REOPENED = ("Tổng đài 1022 đã mở lại hồ sơ {code} và chuyển lại cơ quan chức năng. "
            "Anh/chị có thể nhắn thêm thông tin về tình hình hiện nay.")
REOPEN_TOO_LATE = ("Hồ sơ {code} đã được xử lý xong hơn {days} ngày nên không thể mở lại. "
                   "Anh/chị vui lòng gửi phản ánh mới để tổng đài tiếp nhận.")

CASE_NOT_FOUND = ("Tổng đài 1022 không tìm thấy hồ sơ {code} do anh/chị gửi. "
                  "Anh/chị vui lòng kiểm tra lại mã hồ sơ.")


def tracking_link(code: str) -> str:
    return f"{SITE}/tra-cuu?ma={code}"


def case_filed(category: str, code: str = "{code}") -> str:
    text = (f"Tổng đài 1022 đã tiếp nhận {CATEGORY_NAMES[category]} của anh/chị. "
            f"Mã hồ sơ: {code}. Anh/chị giữ mã này để tra cứu tình trạng xử lý.")
    if category == "report":
        text += " Thông tin người phản ánh được giữ bí mật."
    return f"{text}\nTra cứu: {tracking_link(code)}"


def status_notice(code: str, category: str, status: str, note: str) -> str:
    text = f"Tổng đài 1022 thông báo: hồ sơ {code} ({CATEGORY_NAMES[category]}) {STATUS_NAMES.get(status, status)}."
    return f"{text} {note}" if note else text


def case_status(code: str, category: str, status: str, agency_name: str | None = None) -> str:
    text = f"Hồ sơ {code} ({CATEGORY_NAMES[category]}) hiện {STATUS_NAMES.get(status, status)}"
    text = f"{text}: {agency_name}." if agency_name and status in ("routed", "in_progress") else f"{text}."
    return f"{text}\nQuá trình xử lý: {tracking_link(code)}"

WELCOME = ("Cảm ơn anh/chị đã quan tâm Tổng đài 1022 tỉnh Trà Vinh. " + SERVICES)

INFO_RECEIVED = ("Tổng đài 1022 đã nhận thông tin liên hệ anh/chị cung cấp. "
                 "Thông tin này chỉ dùng để xử lý yêu cầu của anh/chị và được giữ bí mật.")

ATTACHMENT_NAMES = {"image": "hình ảnh", "gif": "hình ảnh", "sticker": "nhãn dán", "video": "video",
                    "audio": "tin nhắn thoại", "file": "tệp", "location": "vị trí", "link": "đường dẫn",
                    "business_card": "danh thiếp"}


def attachment_received(types: list[str]) -> str:
    if types and all(t == "sticker" for t in types):
        return "Tổng đài 1022 có thể giúp gì cho anh/chị? " + SERVICES
    names = list(dict.fromkeys(ATTACHMENT_NAMES.get(t, "tệp") for t in types))
    return (f"Tổng đài 1022 đã nhận {', '.join(names)} anh/chị gửi. Anh/chị vui lòng nhắn thêm "
            "nội dung cần phản ánh hoặc đề nghị (việc gì, ở đâu, khi nào) để tổng đài tiếp nhận.")

# ---- forms: the details a case needs (bot/forms.py) -------------------------------------------

ASK_PLACE = "Việc này xảy ra ở đâu (ấp/khóm, xã/phường, huyện)? Anh/chị cũng có thể gửi vị trí."
ASK_TIME = "Việc này xảy ra khi nào (ví dụ: tối qua, 20 giờ hôm nay, 20/11)?"
ASK_NAME = "Anh/chị vui lòng cho biết họ và tên người cần hỗ trợ."
ASK_PHONE = "Anh/chị vui lòng cho biết số điện thoại để cán bộ liên hệ."
ASK_ADDRESS = "Anh/chị vui lòng cho biết địa chỉ (ấp/khóm, xã/phường, huyện)."
ASK_REQUEST = "Anh/chị đề nghị được hỗ trợ gì (tiền mặt, gạo, thực phẩm, thuốc…)?"
WHY_PHONE = "Số điện thoại chỉ để cán bộ gọi lại khi cần và được giữ bí mật; không có số, cán bộ sẽ nhắn anh/chị tại đây."
WHY_PLACE = "Tổng đài cần biết địa điểm để chuyển đúng cơ quan ở địa phương xử lý."
WHY_TIME = "Thời gian giúp cơ quan chức năng kiểm tra đúng lúc; không nhớ rõ thì anh/chị nhắn \"không rõ\"."
WHY_NAME = "Họ tên cần để cơ quan lao động đối chiếu danh sách hỗ trợ; thông tin được giữ bí mật."
WHY_REQUEST = "Anh/chị nói rõ cần hỗ trợ gì để cán bộ xem xét đúng chính sách; chưa rõ thì nhắn \"chưa biết\"."
HOW_TO_DECLINE = " (Nếu không muốn cung cấp, anh/chị nhắn \"bỏ qua\".)"
DECLINE_OK = "Dạ, không sao ạ."


def noted(labels: list[str]) -> str:
    return f"Dạ, Tổng đài 1022 đã ghi nhận {', '.join(label[0].lower() + label[1:] for label in labels)}."
NOT_AN_ANSWER = "Dạ, Tổng đài 1022 chưa nhận được thông tin cần hỏi."
QUESTION_LATER = ("Dạ, câu hỏi này cán bộ sẽ trả lời anh/chị sau; anh/chị cũng có thể nhắn lại sau khi gửi xong "
                  "nội dung đang soạn.")
OFFER_PERSON = "Nếu khó nhắn, anh/chị có thể gặp cán bộ trực tổng đài."
PERSON_CHOICES = (("Gặp cán bộ", "ASK_HUMAN"),)
NOT_GIVEN = "(không cung cấp)"
CONFIRM_HINT = "Anh/chị nhắn \"gửi\" để gửi, \"sửa\" để sửa thông tin, hoặc \"hủy\" để hủy."
NOT_SENT_NO = ("Dạ, Tổng đài 1022 chưa gửi. Anh/chị muốn sửa thông tin nào? Nếu không muốn gửi nữa, "
               "anh/chị nhắn \"hủy\".")
NOT_SENT_WAIT = ("Dạ, Tổng đài 1022 chưa gửi và giữ nội dung này cho anh/chị. Khi sẵn sàng, anh/chị nhắn "
                 "\"gửi\" (hoặc bấm Gửi); cần sửa thì nhắn \"sửa\".")
NOT_SENT_UNCLEAR = "Dạ, Tổng đài 1022 chưa gửi. " + CONFIRM_HINT
ASK_WHICH_FIELD = "Anh/chị muốn sửa thông tin nào?"
FORM_CANCELLED = "Tổng đài 1022 đã hủy nội dung anh/chị đang soạn. Anh/chị cần hỗ trợ gì, xin cứ nhắn cho tổng đài."
FORM_EXPIRED = ("Nội dung anh/chị soạn trước đó chưa được gửi và đã hết hạn. "
                "Anh/chị vui lòng nhắn lại nếu vẫn cần gửi.")
def shared_location(latitude: float, longitude: float) -> str:
    return f"Vị trí đã chia sẻ: {latitude:.5f}, {longitude:.5f} (https://maps.google.com/?q={latitude},{longitude})"


MEDIA_ADDED = "Tổng đài 1022 đã nhận tệp anh/chị gửi kèm."


def form_summary(category: str, lines: list[str], offers_phone: bool) -> str:
    text = f"Anh/chị kiểm tra lại {CATEGORY_NAMES[category]}:\n" + "\n".join(lines)
    if offers_phone:
        text += "\nAnh/chị có thể nhắn thêm số điện thoại nếu muốn được liên hệ lại (không bắt buộc)."
    if category == "report":
        text += "\nThông tin người phản ánh được giữ bí mật."
    return text + "\n" + CONFIRM_HINT


# ---- health advice: general guidance only, never a diagnosis ----------------------------------

HEALTH_GUIDANCE = {
    "home_care": ("Hướng dẫn chung cho người mắc COVID-19 cách ly tại nhà: nghỉ ngơi, uống đủ nước, ăn đủ chất; "
                  "đo nhiệt độ và SpO2 ít nhất 2 lần mỗi ngày; hạ sốt bằng paracetamol khi sốt trên 38,5 độ; "
                  "ở phòng riêng, đeo khẩu trang, giữ khoảng cách với người nhà. Gọi ngay 115 hoặc trạm y tế "
                  "khi khó thở, SpO2 dưới 94%, đau tức ngực, môi tím tái, li bì hoặc lơ mơ."),
    "testing": ("Anh/chị có thể xét nghiệm tại trạm y tế xã/phường hoặc Trung tâm Y tế huyện/thị xã/thành phố "
                "nơi cư trú; tự xét nghiệm nhanh dương tính thì báo trạm y tế để được hướng dẫn."),
    "vaccine": ("Lịch tiêm vắc xin được thông báo qua ấp/khóm và trạm y tế xã/phường. Sau tiêm, theo dõi ít nhất "
                "30 phút tại điểm tiêm và 7 ngày tại nhà; sốt nhẹ, đau chỗ tiêm thường tự hết. Gọi ngay 115 hoặc "
                "trạm y tế khi khó thở, đau tức ngực, tím tái, nổi ban toàn thân hoặc lơ mơ."),
    "general": ("Hướng dẫn chung: theo dõi nhiệt độ, SpO2 và các triệu chứng; liên hệ trạm y tế xã/phường để "
                "được khám và tư vấn. Gọi ngay 115 khi khó thở, SpO2 dưới 94%, đau tức ngực, tím tái, "
                "li bì hoặc lơ mơ."),
}
HEALTH_DISCLAIMER = "Đây là hướng dẫn chung, không thay cho chẩn đoán của nhân viên y tế."

# ---- answers from the knowledge base staff keep (bot/knowledge.py) ------------------------------

ASK_STAFF = "KB_ASK_STAFF"
ASK_STAFF_CHOICES = (("Hỏi cán bộ", ASK_STAFF),)


def knowledge_answer(answer: str, source: str, url: str, updated: str) -> str:
    """An entry's answer as the citizen reads it: with its source and the date staff last changed it."""
    text = f"{answer}\n\nTheo {source}, cập nhật {updated}."
    return f"{text}\nVăn bản: {url}" if url else text


def question_noted(working_hours_now: bool, hours: str) -> str:
    when = ("" if working_hours_now else
            f" Hiện ngoài giờ trực ({_hours(hours)}), cán bộ sẽ trả lời trong giờ trực tiếp theo.")
    return ("Tổng đài 1022 ghi nhận câu hỏi của anh/chị, cán bộ sẽ trả lời anh/chị tại đây." + when +
            " Trong lúc chờ, anh/chị vẫn có thể nhắn các yêu cầu khác.")


def staff_answer(question: str, answer: str) -> str:
    """Staff's answer to a question that waited for them: the question quoted, since hours may have passed."""
    asked = question if len(question) <= 120 else question[:117].rstrip() + "…"
    return f"Trả lời câu hỏi của anh/chị «{asked}»:\n{answer}"


STAFF_TITLE = "Cán bộ Tổng đài 1022"  # how a person's reply is signed in the web chat
WEB_CHAT_TOO_MANY_FROM_ADDRESS = ("Có quá nhiều tin nhắn gửi từ cùng một địa chỉ mạng. "
                                  "Anh/chị vui lòng đợi một phút rồi gửi tiếp, hoặc gọi Tổng đài 1022.")
WEB_CHAT_TOO_LARGE = "Nội dung gửi lên quá lớn. Anh/chị vui lòng gửi tin nhắn ngắn hơn hoặc ảnh nhỏ hơn 10 MB."


SMALL_TALK = {
    "greet": GREETING,
    "thanks": THANKS,
    "goodbye": GOODBYE,
    "bot_challenge": BOT_CHALLENGE,
    "affirm": ACKNOWLEDGED,
    "deny": ACKNOWLEDGED,
    "not_yet": ACKNOWLEDGED,
    "decline_field": ACKNOWLEDGED,
    "cancel": NOTHING_TO_CANCEL,
}

# ---- a person hands the chat back (the staff console); staff may edit these before sending ------

CHAT_HANDED_BACK = ("Cán bộ trực Tổng đài 1022 đã hỗ trợ xong. Trợ lý tự động của tổng đài tiếp tục trả lời "
                    "anh/chị tại đây; cần gặp cán bộ, anh/chị nhắn \"gặp cán bộ\".")
CHAT_CLOSED = ("Cán bộ trực Tổng đài 1022 đã kết thúc cuộc trò chuyện. Cảm ơn anh/chị đã liên hệ; "
               "cần hỗ trợ thêm, anh/chị cứ nhắn cho tổng đài.")

# ---- the citizen's side: ratings, personal data (Nghị định 13/2023/NĐ-CP) -------------------------

# Added to the first reply a new citizen gets.
PRIVACY_NOTE = ("Tổng đài 1022 lưu tin nhắn và thông tin anh/chị gửi để xử lý yêu cầu, theo Nghị định "
                f"13/2023/NĐ-CP; chi tiết và cách xem, xóa dữ liệu: {SITE}/quyen-rieng-tu")

RATE_PAYLOAD = "RATE_"          # RATE_<the code's 6 characters>_<1..5>
RATE_SKIP = "RATE_SKIP"
RATING_TITLES = {1: "1 - Rất kém", 2: "2 - Kém", 3: "3 - Bình thường", 4: "4 - Tốt", 5: "5 - Rất tốt"}
LOW_RATING = 2                  # this or lower flags the case for the hotline


def rating_choices(code: str) -> tuple:
    return tuple((title, f"{RATE_PAYLOAD}{code.removeprefix('TV-')}_{score}") for score, title in RATING_TITLES.items())


def rating_request(code: str) -> str:
    return (f"Anh/chị hài lòng thế nào với việc xử lý hồ sơ {code}? Anh/chị bấm một nút, từ 1 (rất kém) "
            "đến 5 (rất tốt), hoặc nhắn số điểm.")


def rated(code: str, score: int) -> str:
    text = f"Tổng đài 1022 cảm ơn anh/chị đã đánh giá hồ sơ {code}: {score}/5."
    if score <= LOW_RATING:
        text += " Tổng đài sẽ xem lại việc xử lý hồ sơ này."
    return text + " Anh/chị có thể nhắn thêm góp ý về cách xử lý (không bắt buộc)."


RATING_SKIP_CHOICES = (("Bỏ qua", RATE_SKIP),)
RATING_COMMENT_KEPT = "Tổng đài 1022 đã ghi nhận góp ý của anh/chị về hồ sơ {code}. Cảm ơn anh/chị."
RATING_NOT_YET = "Hồ sơ {code} chưa xử lý xong nên chưa đánh giá được. Khi xử lý xong, tổng đài sẽ nhắn anh/chị."
GROUP_NOTICE = ("Tổng đài 1022 thông báo: hồ sơ {code} của anh/chị được xử lý chung với một hồ sơ khác cùng sự "
                "việc; hồ sơ đó {status}.")


def group_notice(code: str, status: str, note: str) -> str:
    text = GROUP_NOTICE.format(code=code, status=STATUS_NAMES.get(status, status))
    return f"{text} {note}" if note else text


ERASURE_REQUESTED = (
    "Tổng đài 1022 đã nhận yêu cầu xóa dữ liệu của anh/chị. Cán bộ quản trị sẽ xem xét trong 3 ngày làm việc và "
    "tổng đài sẽ nhắn anh/chị khi xóa xong. Sau khi xóa, tin nhắn, họ tên, số điện thoại, ảnh và tệp của anh/chị "
    "không còn được lưu; các hồ sơ chỉ còn số liệu thống kê và cơ quan xử lý không liên hệ lại được với anh/chị.")
ERASURE_PENDING = "Yêu cầu xóa dữ liệu của anh/chị đã được ghi nhận trước đó và đang chờ cán bộ quản trị duyệt."
ERASURE_DONE = ("Tổng đài 1022 đã xóa dữ liệu của anh/chị theo yêu cầu: tin nhắn, họ tên, số điện thoại, ảnh và tệp "
                "không còn được lưu; các hồ sơ chỉ còn số liệu thống kê. Nếu anh/chị nhắn tiếp, tổng đài tiếp nhận như "
                "một cuộc trò chuyện mới.")
ERASURE_REJECTED = ("Tổng đài 1022 chưa thể xóa dữ liệu của anh/chị: {reason} Cần trao đổi thêm, anh/chị nhắn "
                    "\"gặp cán bộ\".")
NOTHING_KEPT = ("Tổng đài 1022 chưa lưu dữ liệu nào của anh/chị ngoài tin nhắn này. Chi tiết về quyền riêng tư: "
                f"{SITE}/quyen-rieng-tu")
FORM_KEPT = "Nội dung anh/chị đang soạn vẫn được giữ:"


def _day(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, timezone(timedelta(hours=7))).strftime("%d/%m/%Y") if ts else ""


def _masked(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[:4] + "*" * max(0, len(digits) - 7) + digits[-3:] if len(digits) >= 7 else "***"


def my_data(data) -> str:
    """"xem dữ liệu của tôi": what is kept about this account (a MyData of bot/conversation.py).
    The phone is masked: the chat may be read over the citizen's shoulder."""
    if not data.messages and not data.cases:
        return NOTHING_KEPT
    lines = [f"- Tin nhắn: {data.messages} tin, từ {_day(data.first_ts)} đến {_day(data.last_ts)}"
             + (f", kèm {data.media} ảnh, tệp." if data.media else ".")]
    for case in data.cases[:10]:
        lines.append(f"- Hồ sơ {case.code}: {CATEGORY_NAMES[case.category]}, {STATUS_NAMES.get(case.status, case.status)}, "
                     f"gửi ngày {_day(case.created_ts)}" + (f", anh/chị đánh giá {case.rating}/5." if case.rating else "."))
    if len(data.cases) > 10:
        lines.append(f"- Và {len(data.cases) - 10} hồ sơ khác.")
    if data.names:
        lines.append("- Họ tên: " + ", ".join(data.names) + ".")
    if data.phones:
        lines.append("- Số điện thoại: " + ", ".join(_masked(p) for p in data.phones) + " (đã che bớt số).")
    if data.places:
        lines.append(f"- Địa chỉ, địa điểm anh/chị cho biết: {len(data.places)} nơi.")
    kept = (f"Tin nhắn, ảnh và tệp của hồ sơ đã đóng được xóa sau {data.retention_months} tháng."
            if data.retention_months else "Tin nhắn và hồ sơ được lưu cho đến khi anh/chị yêu cầu xóa.")
    pending = f"\n{ERASURE_PENDING}" if data.erasure_pending else \
        "\nMuốn xóa, anh/chị nhắn \"xóa dữ liệu của tôi\"."
    return ("Dữ liệu Tổng đài 1022 đang lưu về tài khoản này:\n" + "\n".join(lines) +
            f"\nDữ liệu chỉ dùng để xử lý yêu cầu của anh/chị. {kept}{pending}\nChi tiết: {SITE}/quyen-rieng-tu")
