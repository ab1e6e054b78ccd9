"""One Jinja environment for every document and message the engine renders.

- Templates live beside this file: `notify/*.j2` (notifications), more to come for documents.
- HTML templates are autoescaped; every template runs with StrictUndefined, so a missing
  field fails loudly instead of leaving an empty section.
- Chinese by default; English by `GRIEVANCE_LANGUAGE=en` (or the `language` argument). A
  template `name.{lang}.{ext}.j2` is chosen by language.
- Filters: `local_time` (Asia/Shanghai, Chinese style), `work_time` (a business-time span in
  working hours), `yuan` (fen to yuan), `mask` (phone, ID and plate numbers in free text),
  `mask_phone`, `mask_name`, `mask_plate`, `pct` (a rate as 93.3%, None as "—"; `sign=True`
  for a change such as +25.0%), `md` (user text made literal inside a Markdown table cell or list item:
  one line, no HTML, no links).
- Autoescaping goes by the extension before `.j2`: html, htm, xml and svg templates escape.
- Every template sees `bureau`: the bureau's own name ($GRIEVANCE_BUREAU_NAME), or None when
  it is not configured (then nothing is shown in its place, never a placeholder); and `logo`:
  its seal or logo ($GRIEVANCE_BUREAU_LOGO, a PNG or JPEG file) as a data URI, or None.
"""

from __future__ import annotations

import base64
import os
import re
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from workflow.errors import InvalidInput
from workflow.privacy import mask_name, mask_phone, mask_plate, mask_text
from workflow.validation import UNIT_NAME_MAX, has_binary, nfc

HERE = Path(__file__).parent
LANGUAGES = ("zh", "en")
ENV_LANGUAGE = "GRIEVANCE_LANGUAGE"
ENV_BUREAU = "GRIEVANCE_BUREAU_NAME"
ENV_LOGO = "GRIEVANCE_BUREAU_LOGO"
LOGO_MAX_BYTES = 1_000_000
_IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
# `name.zh.html.j2` ends in ".j2": select_autoescape must see the extension before it.
_ESCAPED = [f"{ext}{j2}" for ext in ("html", "htm", "xml", "svg") for j2 in ("", ".j2")]


def language(value: str | None = None) -> str:
    """The language to render in: the argument, else $GRIEVANCE_LANGUAGE, else Chinese."""
    chosen = (value or os.environ.get(ENV_LANGUAGE) or "zh").strip().lower()
    if chosen not in LANGUAGES:
        raise InvalidInput(f"unknown language {chosen!r}: use one of {', '.join(LANGUAGES)}")
    return chosen


def bureau_name() -> str | None:
    """The bureau's own name ($GRIEVANCE_BUREAU_NAME, e.g. 成都市交通运输局) that documents,
    digests and notifications carry; None when not set. One line of text, at most 100
    characters; anything else is an error, not a document with a broken heading."""
    text = nfc(os.environ.get(ENV_BUREAU, "").strip())
    if not text:
        return None
    if len(text) > UNIT_NAME_MAX or has_binary(text) or "\n" in text:
        raise InvalidInput(
            f"{ENV_BUREAU}: the bureau's name is one line of at most {UNIT_NAME_MAX} characters"
        )
    return text


def bureau_logo() -> tuple[bytes, str] | None:
    """The bureau's seal or logo ($GRIEVANCE_BUREAU_LOGO: a PNG or JPEG file of at most
    1 MB) as (bytes, MIME type); None when not set. A file that cannot be read or is not such
    an image is an error."""
    path = os.environ.get(ENV_LOGO, "").strip()
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InvalidInput(f"{ENV_LOGO}: cannot read {path}: {error.strerror}") from None
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput(f"{ENV_LOGO}: {path} is larger than {LOGO_MAX_BYTES:,} bytes")
    mime = next((m for magic, m in _IMAGE_TYPES.items() if data.startswith(magic)), None)
    if mime is None:
        raise InvalidInput(f"{ENV_LOGO}: {path} is not a PNG or JPEG image")
    return data, mime


def _logo_uri() -> str | None:
    logo = bureau_logo()
    if logo is None:
        return None
    data, mime = logo
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def with_bureau(title: str, lang: str = "zh") -> str:
    """A title with the bureau's name in front (成都市交通运输局货车司机诉求办理周汇总), as it
    stands when no name is configured."""
    bureau = bureau_name()
    if bureau is None:
        return title
    return f"{bureau}{title}" if lang == "zh" else f"{bureau}: {title}"


def local_time(moment: datetime | None, lang: str = "zh", tz: ZoneInfo = SHANGHAI) -> str:
    """2026年11月23日 14:30 (zh) or 2026-11-23 14:30 (en), in the bureau's zone."""
    if moment is None:
        return "—"
    shown = moment.astimezone(tz)
    if lang == "zh":
        return f"{shown.year}年{shown.month}月{shown.day}日 {shown:%H:%M}"
    return f"{shown:%Y-%m-%d %H:%M}"


def work_time(span: timedelta | None, lang: str = "zh") -> str:
    """A span of business time: 3小时20分钟 / 3 h 20 min (working hours, not clock days)."""
    minutes = int((span or timedelta(0)).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if lang == "zh":
        if not hours:
            return f"{rest}分钟"
        return f"{hours}小时{rest}分钟" if rest else f"{hours}小时"
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def yuan(fen: int | None, lang: str = "zh") -> str:
    """350000 -> 3,500.00元 (zh) or CNY 3,500.00 (en)."""
    if fen is None:
        return "—"
    amount = f"{fen // 100:,}.{fen % 100:02d}"
    return f"{amount}元" if lang == "zh" else f"CNY {amount}"


def pct(value: float | None, digits: int = 1, sign: bool = False) -> str:
    """0.9333 -> 93.3%; None (a rate with no denominator) -> "—"; with `sign`, +25.0%."""
    if value is None:
        return "—"
    percent = value * 100
    if round(percent, digits) == 0:
        percent = 0.0  # no "+0.0%" or "-0.0%"
    return f"{percent:{'+' if sign and percent else ''}.{digits}f}%"


_MD_INLINE = re.compile(r"([\\`\[\]|])")


def md_cell(text: object) -> str:
    """User text inside a Markdown table cell or a one-line list item: no cell breaks, no new
    lines, no raw HTML tags, no links or code spans (Markdown made literal)."""
    flat = " ".join(str(text).split())
    return _MD_INLINE.sub(r"\\\1", flat).replace("<", "&lt;").replace(">", "&gt;")


def _build(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE),
        autoescape=select_autoescape(_ESCAPED),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["local_time"] = lambda m: local_time(m, lang)
    env.filters["work_time"] = lambda s: work_time(s, lang)
    env.filters["yuan"] = lambda f: yuan(f, lang)
    env.filters["mask"] = lambda t: mask_text(str(t))
    env.filters["mask_phone"] = mask_phone
    env.filters["mask_name"] = mask_name
    env.filters["mask_plate"] = mask_plate
    env.filters["pct"] = pct
    env.filters["md"] = md_cell
    env.globals["lang"] = lang
    return env


@cache
def environment(lang: str = "zh") -> Environment:
    """The shared environment for one language (built once per process)."""
    return _build(language(lang))


def render(name: str, lang: str | None = None, **context: Any) -> str:
    """Render `name` (e.g. "notify/sla_step.md") in the chosen language."""
    chosen = language(lang)
    context.setdefault("bureau", bureau_name())
    if name.endswith(".html"):
        context.setdefault("logo", _logo_uri())
    return environment(chosen).get_template(_path(name, chosen)).render(**context)


def render_message(name: str, lang: str | None = None, **context: Any) -> tuple[str, str]:
    """A message template's title (its `{% set title %}` block) and body."""
    chosen = language(lang)
    context.setdefault("bureau", bureau_name())
    template = environment(chosen).get_template(_path(name, chosen))
    module = template.make_module(context)
    return str(module.title).strip(), str(module).strip() + "\n"  # type: ignore[attr-defined]


def _path(name: str, lang: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        raise ValueError(f"template name needs an extension: {name!r}")
    return f"{stem}.{lang}.{ext}.j2"
