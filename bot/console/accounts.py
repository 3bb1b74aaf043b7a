"""账号管理 (admins) and 我的账号 (everyone): accounts, passwords, WeChat linking.

Every change is a POST that calls one function of services.staff_accounts, writes an
audit row, commits and redirects. A new password, a disabled account or a new role
or 乡镇 ends that account's sessions (its session_version goes up); when the account
is the one signed in here, this session is signed in again with the new version.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from bot.console import blueprint, db
from bot.console.access import can, require
from bot.console.auth import SignedIn
from bot.console.common import commit, me, now, record
from bot.runtime import runtime
from models.staff_account import StaffAccount, StaffRole
from services import staff_accounts
from services.staff_accounts import AccountError

SUBJECT = "staff_account"
COUNTY = ""  # the select's value for 全县 (no 乡镇: the whole county)
ROLE_CHOICES = [
    SelectChoice(StaffRole.ADMIN.value, "管理员（全部功能和账号管理）"),
    SelectChoice(StaffRole.OFFICER.value, "经办人（处理求助和审核）"),
    SelectChoice(StaffRole.VIEWER.value, "只读（只能查看）"),
]


def town_names() -> list[str]:
    from services.areas import town_names as names  # the area table; areas.toml until it is seeded

    return names(db(), runtime().settings)


def town_choices() -> list[SelectChoice]:
    return [SelectChoice(COUNTY, "全县")] + [SelectChoice(name, name) for name in town_names()]


def _password_policy(_form, field) -> None:
    try:
        staff_accounts.check_password(field.data or "")
    except AccountError as error:
        raise ValidationError(str(error)) from None


# --- forms -------------------------------------------------------------------------


class _Form(FlaskForm):
    class Meta:
        csrf = False  # CSRFProtect checks every console POST; the templates carry the token



class _AccountFields(_Form):
    display_name = StringField("姓名", validators=[Optional(), Length(max=40, message="姓名最多40个字。")])
    role = SelectField("角色", choices=ROLE_CHOICES)
    town = SelectField("范围", choices=[], validate_choice=False)

    def validate_town(self, field) -> None:
        if field.data and field.data not in town_names():
            raise ValidationError("请选择全县或一个乡镇/街道。")


class CreateForm(_AccountFields):
    username = StringField("用户名", validators=[
        DataRequired("请输入用户名。"),
        Length(min=2, max=40, message="用户名为2到40位字母、数字、下划线、点或减号。"),
    ])
    password = PasswordField("初始密码", validators=[DataRequired("请输入初始密码。"), _password_policy])
    password2 = PasswordField("再输一次", validators=[
        DataRequired("请再输入一次密码。"), EqualTo("password", "两次输入的密码不一样。"),
    ])

    def validate_username(self, field) -> None:
        """Said beside the field together with any other mistake (the service checks again)."""
        name = (field.data or "").strip()
        if not staff_accounts.USERNAME.fullmatch(name):
            raise ValidationError("用户名为2到40位字母、数字、下划线、点或减号。")
        if staff_accounts.by_username(db(), name) is not None:
            raise ValidationError(f"用户名{name}已存在。")


class UpdateForm(_AccountFields):
    receives_alerts = BooleanField("接收微信工作提醒")


class ResetPasswordForm(_Form):
    password = PasswordField("新密码", validators=[DataRequired("请输入新密码。"), _password_policy])
    password2 = PasswordField("再输一次", validators=[
        DataRequired("请再输入一次新密码。"), EqualTo("password", "两次输入的密码不一样。"),
    ])


class OwnPasswordForm(ResetPasswordForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码。")])


def _with_towns(form):
    form.town.choices = town_choices()
    return form


# --- helpers -----------------------------------------------------------------------


def _account(account_id: int) -> StaffAccount:
    account = staff_accounts.by_id(db(), account_id)
    if account is None:
        abort(404)
    return account


def _area(town: str | None) -> str:
    return town or "全县"


def _keep_signed_in(account: StaffAccount, version_before: int) -> None:
    """Changing one's own password or role ends the other sessions, not this one."""
    if account.id == me().id and account.session_version != version_before:
        login_user(SignedIn(account))


def _record(action: str, account: StaffAccount, detail: str | None = None) -> None:
    record(action, subject=SUBJECT, subject_id=account.id, detail=detail)


# --- 账号管理 ----------------------------------------------------------------------


def _render_list(form: CreateForm, status: int = 200):
    accounts = staff_accounts.all_accounts(db())
    return render_template("console/accounts/list.html", accounts=accounts, form=form, area=_area,
                           open_form=bool(form.errors)), status


@blueprint.route("/staff")
@require("staff.manage")
def staff_list():
    return _render_list(_with_towns(CreateForm(formdata=None, role=StaffRole.OFFICER.value)))


@blueprint.route("/staff", methods=["POST"])
@require("staff.manage")
def staff_create():
    form = _with_towns(CreateForm())
    if not form.validate():
        return _render_list(form, 400)
    try:
        account = staff_accounts.create(
            db(), form.username.data.strip(), form.password.data, now(), role=StaffRole(form.role.data),
            town=form.town.data or None, display_name=form.display_name.data,
        )
    except AccountError as error:
        db().rollback()
        form.username.errors = [str(error)]
        return _render_list(form, 400)
    _record("staff.create", account, f"角色：{account.role.label}；范围：{_area(account.town)}")
    commit(f"已新建账号{account.username}。")
    return redirect(url_for("console.staff_edit", account_id=account.id))


def _render_edit(account: StaffAccount, *, update: UpdateForm | None = None,
                 password: ResetPasswordForm | None = None, error: str | None = None, status: int = 200):
    if update is None:
        update = _with_towns(UpdateForm(formdata=None, display_name=account.display_name or "",
                                        role=account.role.value, town=account.town or COUNTY,
                                        receives_alerts=account.receives_alerts))
    return render_template("console/accounts/edit.html", account=account, update=update,
                           password=password or ResetPasswordForm(formdata=None, prefix="reset"),
                           error=error, area=_area, is_me=account.id == me().id), status


@blueprint.route("/staff/<int:account_id>")
@require("staff.manage")
def staff_edit(account_id: int):
    return _render_edit(_account(account_id))


@blueprint.route("/staff/<int:account_id>", methods=["POST"])
@require("staff.manage")
def staff_update(account_id: int):
    account = _account(account_id)
    form = _with_towns(UpdateForm())
    if not form.validate():
        return _render_edit(account, update=form, status=400)
    before = (account.role, account.town, account.display_name, account.receives_alerts)
    version = account.session_version
    try:
        staff_accounts.update(db(), account, role=StaffRole(form.role.data), town=form.town.data or None,
                              display_name=form.display_name.data, receives_alerts=form.receives_alerts.data)
    except AccountError as error:
        db().rollback()
        return _render_edit(account, update=form, error=str(error), status=400)
    changes = _changes(before, account)
    if not changes:
        return redirect(url_for("console.staff_edit", account_id=account.id))
    _record("staff.update", account, "；".join(changes))
    _keep_signed_in(account, version)
    ended = "，该账号需重新登录" if account.session_version != version and account.id != me().id else ""
    commit(f"已保存{account.username}的修改{ended}。")
    if not can(current_user, "staff.manage"):  # an admin who just gave up the role
        return redirect(url_for("console.my_account"))
    return redirect(url_for("console.staff_edit", account_id=account.id))


def _changes(before, account: StaffAccount) -> list[str]:
    role, town, display_name, alerts = before
    changes = []
    if role != account.role:
        changes.append(f"角色：{role.label}→{account.role.label}")
    if town != account.town:
        changes.append(f"范围：{_area(town)}→{_area(account.town)}")
    if display_name != account.display_name:
        changes.append("姓名已修改")
    if alerts != account.receives_alerts:
        changes.append("接收提醒：" + ("是" if account.receives_alerts else "否"))
    return changes


@blueprint.route("/staff/<int:account_id>/password", methods=["POST"])
@require("staff.manage")
def staff_password(account_id: int):
    account = _account(account_id)
    form = ResetPasswordForm(prefix="reset")
    if not form.validate():
        return _render_edit(account, password=form, status=400)
    version = account.session_version
    staff_accounts.set_password(db(), account, form.password.data, now())
    _record("staff.password", account, "管理员重设密码")
    _keep_signed_in(account, version)
    commit(f"已重设{account.username}的密码，该账号已登录的地方都需用新密码重新登录。")
    return redirect(url_for("console.staff_edit", account_id=account.id))


def _simple_action(account_id: int, action: str, change, message: str):
    account = _account(account_id)
    try:
        change(db(), account)
    except AccountError as error:
        db().rollback()
        return _render_edit(account, error=str(error), status=400)
    _record(action, account)
    commit(message.format(username=account.username))
    return redirect(url_for("console.staff_edit", account_id=account.id))


@blueprint.route("/staff/<int:account_id>/disable", methods=["POST"])
@require("staff.manage")
def staff_disable(account_id: int):
    return _simple_action(account_id, "staff.disable", staff_accounts.disable, "已停用{username}，该账号已退出登录。")


@blueprint.route("/staff/<int:account_id>/enable", methods=["POST"])
@require("staff.manage")
def staff_enable(account_id: int):
    return _simple_action(account_id, "staff.enable", staff_accounts.enable, "已启用{username}。")


@blueprint.route("/staff/<int:account_id>/unlink", methods=["POST"])
@require("staff.manage")
def staff_unlink(account_id: int):
    return _simple_action(account_id, "staff.unlink", staff_accounts.unlink, "已解除{username}的微信绑定。")


# --- 我的账号 ----------------------------------------------------------------------


def _render_me(password: OwnPasswordForm | None = None, code: str | None = None, status: int = 200):
    account = me()
    return render_template("console/accounts/me.html", account=account, area=_area(account.town),
                           password=password or OwnPasswordForm(formdata=None, prefix="own"), code=code,
                           code_minutes=int(staff_accounts.LINK_CODE_TTL.total_seconds() // 60),
                           code_expires=account.link_code_expires_at if code else None), status


@blueprint.route("/me")
@require("view")
def my_account():
    return _render_me()


@blueprint.route("/me/password", methods=["POST"])
@require("view")
def my_password():
    form = OwnPasswordForm(prefix="own")
    if not form.validate():
        return _render_me(password=form, status=400)
    account = me()
    version = account.session_version
    try:
        staff_accounts.change_own_password(db(), account, form.current.data, form.password.data, now())
    except AccountError as error:
        db().rollback()
        form.current.errors = [str(error)]
        return _render_me(password=form, status=400)
    _record("staff.password", account, "本人修改密码")
    _keep_signed_in(account, version)
    commit("密码已修改。其他电脑上的登录已退出。")
    return redirect(url_for("console.my_account"))


@blueprint.route("/me/link", methods=["POST"])
@require("view")
def my_link_code():
    """A fresh code, shown once on this page (not kept anywhere but as a hash)."""
    account = me()
    code = staff_accounts.new_link_code(db(), account, now())
    _record("staff.link", account, "生成绑定码")
    commit()
    return _render_me(code=code)


@blueprint.route("/me/unlink", methods=["POST"])
@require("view")
def my_unlink():
    account = me()
    staff_accounts.unlink(db(), account)
    _record("staff.unlink", account, "本人解除绑定")
    commit("已解除微信绑定，工作提醒不再发到原来的微信。")
    return redirect(url_for("console.my_account"))
