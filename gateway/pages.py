"""The gate's own pages: the login form, in Chinese with English beside it."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 Sign in · 货车司机诉求办理</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  background: #f3f4f6; margin: 0; display: flex; min-height: 100vh; align-items: center;
  justify-content: center; }}
form {{ background: #fff; padding: 2rem 2.5rem; border-radius: 8px; width: 22rem;
  box-shadow: 0 1px 4px rgba(0,0,0,.15); }}
h1 {{ font-size: 1.3rem; margin: 0 0 .3rem; }} p.sub {{ color: #555; margin: 0 0 1.5rem; }}
label {{ display: block; margin: .8rem 0 .3rem; }} label span {{ color: #777; font-size: .85rem; }}
input {{ width: 100%; box-sizing: border-box; padding: .55rem; font-size: 1rem;
  border: 1px solid #bbb; border-radius: 4px; }}
button {{ margin-top: 1.4rem; width: 100%; padding: .65rem; font-size: 1rem; border: 0;
  border-radius: 4px; background: #1d4ed8; color: #fff; cursor: pointer; }}
.error {{ color: #b91c1c; background: #fef2f2; padding: .5rem; border-radius: 4px; }}
</style></head>
<body><form method="post" action="/login">
<h1>货车司机诉求办理 · 登录</h1>
<p class="sub">Grievance desk · Sign in</p>
{error}
<input type="hidden" name="next" value="{next}">
<label for="username">账号 <span>Login name</span></label>
<input id="username" name="username" autocomplete="username" required autofocus value="{username}">
<label for="password">密码 <span>Password</span></label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">登录 Sign in</button>
{sso}
</form></body></html>
"""
_SSO = (
    '<p style="text-align:center;margin-top:1rem"><a href="/login/sso?next={next}">'
    "单点登录 Sign in with the bureau's account</a></p>"
)

ERRORS = {
    "refused": "账号或密码错误，或账号已停用。<br>Wrong login name or password, or the account is "
    "disabled.",
    "throttled": "登录失败次数过多，请一分钟后再试。<br>Too many failed logins: try again in a "
    "minute.",
    "origin": "请求来源不符，请从本页面登录。<br>This form must be sent from this page.",
}


def login_page(
    *,
    next_path: str = "/",
    error: str | None = None,
    username: str = "",
    sso: bool = False,
    detail: str | None = None,
) -> str:
    """The login page; `error` one of ERRORS, `detail` a message of its own (escaped); with a
    link to single sign-on when it is configured."""
    shown = f'<p class="error">{ERRORS[error]}</p>' if error else ""
    if detail:
        shown += f'<p class="error">{escape(detail)}</p>'
    link = _SSO.format(next=escape(quote(next_path, safe="/"))) if sso else ""
    return _PAGE.format(error=shown, next=escape(next_path), username=escape(username), sso=link)


_REVEAL = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>查看联系电话 Show a driver's number</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  margin: 2rem auto; max-width: 34rem; }}
label {{ display: block; margin: .8rem 0 .3rem; }} label span {{ color: #777; font-size: .85rem; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }}
button {{ margin-top: 1rem; padding: .55rem 1.2rem; font-size: 1rem; }}
.shown {{ background: #f0fdf4; padding: 1rem; border-radius: 4px; font-size: 1.1rem; }}
.error {{ color: #b91c1c; background: #fef2f2; padding: .5rem; border-radius: 4px; }}
.note {{ color: #555; font-size: .9rem; }}
</style></head>
<body><h1>查看联系电话 <small>Show a driver's number</small></h1>
<p class="note">回访或核实时使用；每次查看都记入安全日志（谁、何时、哪件、为何）。
For calling back: each reveal is logged (who, when, which grievance, why).</p>
{result}
<form method="post" action="/gate/reveal">
<label for="number">工单编号 <span>Grievance number</span></label>
<input id="number" name="number" required value="{number}">
<label for="why">查看原因 <span>Why (e.g. 回访)</span></label>
<input id="why" name="why" required maxlength="200">
<button type="submit">查看 Show</button>
</form></body></html>
"""


def reveal_page(
    *, number: str = "", shown: dict[str, str | None] | None = None, error: str | None = None
) -> str:
    """The reveal form, with the number shown (or why not) after a submit."""
    if shown is not None:
        plate = f"　车牌 plate {escape(shown['plate'] or '')}" if shown.get("plate") else ""
        result = (
            f'<p class="shown">{escape(str(shown["number"]))}: {escape(str(shown["name"]))}　'
            f"电话 phone <b>{escape(str(shown['phone']))}</b>{plate}</p>"
        )
    elif error is not None:
        result = f'<p class="error">{escape(error)}</p>'
    else:
        result = ""
    return _REVEAL.format(result=result, number=escape(number))
