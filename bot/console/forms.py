"""The console's forms: each carries a CSRF token (Flask-WTF) and says what is wrong in Vietnamese."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from bot.cases import STATUSES
from bot.console import password_policy
from bot.console.access import ROLES
from bot import texts

REQUIRED = "Vui lòng nhập {}."
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Địa chỉ thư điện tử không hợp lệ.")


def stripped(value) -> str:
    """A field left out of a post reads as empty text, never as None."""
    return (value or "").strip()


# WTForms and Flask-WTF have no Vietnamese catalogue: the messages they write themselves (ours
# are written in Vietnamese) are shown like this.
LIBRARY_MESSAGES = {
    "Not a valid choice.": "Lựa chọn không hợp lệ.",
    "This field is required.": "Vui lòng điền đủ thông tin.",
    "The CSRF token is missing.": "Phiên làm việc đã hết hạn: vui lòng tải lại trang rồi thử lại.",
    "The CSRF token is invalid.": "Phiên làm việc đã hết hạn: vui lòng tải lại trang rồi thử lại.",
    "The CSRF token has expired.": "Phiên làm việc đã hết hạn: vui lòng tải lại trang rồi thử lại.",
    "The CSRF tokens do not match.": "Phiên làm việc đã hết hạn: vui lòng tải lại trang rồi thử lại.",
}
INVALID_FORM = "Biểu mẫu không hợp lệ: vui lòng tải lại trang rồi thử lại."


class StrongPassword:
    """The password policy (bot/console/password_policy.py); the username is read from the form's
    `username` field or its `account` attribute (set by the view)."""

    def __call__(self, form, field):
        if not field.data:
            return
        username = form.username.data if hasattr(form, "username") else getattr(form, "account", None)
        found = password_policy.problem(field.data, username)
        if found:
            raise ValidationError(found)


def errors_of(form: FlaskForm) -> str:
    """What is wrong with a posted form, in Vietnamese, for a flash message."""
    said = []
    for errors in form.errors.values():
        for error in errors:
            text = LIBRARY_MESSAGES.get(str(error), str(error))
            if text.isascii():  # a library message not in the table above
                text = INVALID_FORM
            if text not in said:
                said.append(text)
    return " ".join(said) or INVALID_FORM


def options(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class LoginForm(FlaskForm):
    username = StringField("Tên đăng nhập", filters=[stripped], validators=[DataRequired(REQUIRED.format("tên đăng nhập"))])
    password = PasswordField("Mật khẩu", validators=[DataRequired(REQUIRED.format("mật khẩu"))])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class OnceForm(FlaskForm):
    # Made when the page is drawn: a double click or a re-post acts once.
    send_key = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])


class ReplyForm(OnceForm):
    text = TextAreaField("Nội dung trả lời", filters=[stripped], validators=[Length(max=8000, message="Nội dung quá dài.")])
    photo = FileField("Ảnh gửi kèm", validators=[
        FileAllowed(["jpg", "jpeg", "png"], "Chỉ gửi được ảnh JPG hoặc PNG.")])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not (self.text.data or "").strip() and not self.photo.data:
            self.text.errors.append("Vui lòng nhập nội dung trả lời hoặc chọn ảnh.")
            return False
        return True


# Who reads what staff write on a case is chosen every time, in words: an agency's note to the
# hotline once reached the citizen because a "notify" box was ticked by default.
PUBLIC, INTERNAL = "public", "internal"
VISIBILITY = options(((PUBLIC, "Gửi cho người dân"), (INTERNAL, "Chỉ nội bộ (tổng đài và cơ quan)")))


class VisibilityForm(OnceForm):
    visibility = RadioField("Ai được đọc", choices=VISIBILITY, default=INTERNAL)

    @property
    def public(self) -> bool:
        return self.visibility.data == PUBLIC


class StatusForm(VisibilityForm):
    status = SelectField("Trạng thái mới", choices=options((s, texts.STATUS_NAMES[s]) for s in STATUSES))
    note = TextAreaField("Ghi chú", filters=[stripped], validators=[Length(max=2000)])


class NoteForm(VisibilityForm):
    note = TextAreaField("Ghi chú", filters=[stripped], validators=[DataRequired(REQUIRED.format("ghi chú")), Length(max=2000)])


class RouteForm(VisibilityForm):
    agency = SelectField("Chuyển đến cơ quan")
    note = TextAreaField("Lý do", filters=[stripped], validators=[Length(max=2000)])


class ReleaseForm(FlaskForm):
    """Handing a chat back or closing it: the second step, and what the citizen is told."""
    confirm = HiddenField()  # "yes" only from the confirmation step
    notify = BooleanField("Nhắn cho người dân", default=True)
    message = TextAreaField("Lời nhắn", filters=[stripped], validators=[Length(max=1000, message="Lời nhắn quá dài.")])


class StaffForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[
        DataRequired(REQUIRED.format("tên đăng nhập")),
        Regexp(r"^[a-z0-9._-]{3,40}$", message="Tên đăng nhập 3–40 ký tự: chữ thường không dấu, số, . _ -")])
    name = StringField("Họ và tên", filters=[stripped], validators=[DataRequired(REQUIRED.format("họ và tên")), Length(max=100)])
    password = PasswordField("Mật khẩu (ít nhất 12 ký tự)", validators=[StrongPassword()])
    role = SelectField("Vai trò", choices=options(ROLES.items()))
    agency = SelectField("Cơ quan (với vai trò cơ quan xử lý)", validators=[Optional()])
    email = StringField("Thư điện tử (nhận cảnh báo hồ sơ quá hạn, không bắt buộc)", filters=[stripped],
                        validators=[Optional(), Length(max=200), EMAIL])


class StaffUpdateForm(FlaskForm):
    name = StringField("Họ và tên (để trống nếu không đổi)", filters=[stripped], validators=[Length(max=100)])
    role = SelectField("Vai trò", choices=options(ROLES.items()))
    agency = SelectField("Cơ quan", validators=[Optional()])
    email = StringField("Thư điện tử", filters=[stripped],
                        validators=[Optional(), Length(max=200), EMAIL])
    active = BooleanField("Đang hoạt động")
    password = PasswordField("Mật khẩu mới (để trống nếu không đổi)", validators=[Optional(), StrongPassword()])
    unlock = BooleanField("Mở khóa đăng nhập")


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Mật khẩu hiện tại", validators=[DataRequired(REQUIRED.format("mật khẩu hiện tại"))])
    new = PasswordField("Mật khẩu mới (ít nhất 12 ký tự)", validators=[DataRequired(REQUIRED.format("mật khẩu mới")),
                                                                       StrongPassword()])
    again = PasswordField("Nhập lại mật khẩu mới", validators=[EqualTo("new", "Hai lần nhập mật khẩu mới không khớp.")])
