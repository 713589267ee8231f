"""Chinese first, English on request: every part registers its messages here.

A message is a key with its Chinese and English text, `MESSAGES = {"key": ("中文", "English")}`,
registered with `register(MESSAGES)`; templates call `_("key")`.  A key nobody registered shows as
itself, so a missing translation is visible rather than blank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

_TABLE: dict[str, tuple[str, str]] = {}


def register(messages: Mapping[str, tuple[str, str]]) -> None:
    for key, texts in messages.items():
        if key in _TABLE and _TABLE[key] != texts:
            raise ValueError(f"message {key!r} registered twice with different texts")
        _TABLE[key] = texts


def translator(lang: str) -> Callable[..., str]:
    index = 1 if lang == "en" else 0

    def translate(key: str, **values: object) -> str:
        texts = _TABLE.get(key)
        text = texts[index] if texts else key
        return text.format(**values) if values else text

    return translate


def reason_text(reason: str, lang: str, message: str) -> str:
    """A refusal for the page: the registered text of its reason code when there is one (reason
    keys are "reason.CODE"), else the gateway's own message."""
    texts = _TABLE.get(f"reason.{reason}")
    return texts[1 if lang == "en" else 0] if texts else message


register(
    {
        "site.name": ("客运站", "Bus station"),
        "nav.home": ("首页", "Home"),
        "nav.skip": ("跳到正文", "Skip to content"),
        "lang.switch": ("English", "中文"),
        "error.title": ("出错了", "Something went wrong"),
        "error.reason": ("原因代码", "Reason code"),
        "error.back": ("返回", "Back"),
        "error.internal": ("服务暂时不可用，请稍后再试。", "The service is not available just now. Please try again."),
        "error.not_found": ("页面不存在。", "There is no such page."),
        "home.title": ("客运站服务", "Station services"),
        "reason.NOT_AUTHENTICATED": ("请先登录。", "Please log in first."),
        "reason.TOKEN_EXPIRED": ("登录已过期，请重新登录。", "Your session has expired. Please log in again."),
        "reason.PERMISSION_DENIED": ("没有权限进行此操作。", "You may not do this."),
    }
)
