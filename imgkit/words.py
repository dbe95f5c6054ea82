"""The languages imgkit writes its words in, and a pair of words rendered in one of them.

Every message imgkit produces exists in Chinese and English.  ``lang="both"`` (the
default everywhere) writes ``中文 / English``; ``lang="zh"`` or ``lang="en"`` writes one
language.  Messages are put together from :class:`Words`, which keep the two languages
apart until the text is written, so no step ever has to split a bilingual string again.

Example
-------
>>> words = Words("图片过大", "too large", "600000 > 500000 bytes")
>>> for lang in LANGS:
...     print(words.render(lang))
图片过大: 600000 > 500000 bytes
too large: 600000 > 500000 bytes
图片过大 / too large: 600000 > 500000 bytes
>>> say("可用", "accepted", "en")
'accepted'
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Lang = Literal["zh", "en", "both"]
LANGS: tuple[Lang, ...] = ("zh", "en", "both")
DEFAULT_LANG: Lang = "both"


def check_lang(lang: object) -> Lang:
    """``lang`` if it is one of :data:`LANGS` (any case, surrounding spaces ignored).

    Raises :class:`ValueError` naming the value and the accepted ones otherwise.

    >>> check_lang(" ZH ")
    'zh'
    >>> check_lang("fr")
    Traceback (most recent call last):
    ...
    ValueError: lang 'fr' 不支持 / is not supported (可用 / accepted: zh, en, both)
    """
    text = lang.strip().casefold() if isinstance(lang, str) else lang
    for known in LANGS:
        if text == known:
            return known
    raise ValueError(
        f"lang {lang!r} 不支持 / is not supported (可用 / accepted: {', '.join(LANGS)})"
    )


def say(zh: str, en: str, lang: Lang) -> str:
    """``zh``, ``en`` or ``"zh / en"``, as ``lang`` asks.

    >>> say("失败", "failed", "both")
    '失败 / failed'
    """
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return f"{zh} / {en}"


class Words(NamedTuple):
    """Words in two languages, with an optional detail in neither (numbers, names, or a
    platform's own message), written after them."""

    zh: str
    en: str
    detail: str | Words = ""

    def render(self, lang: Lang = DEFAULT_LANG) -> str:
        """The words in ``lang``, then ``": detail"`` when there is one.

        >>> Words("已取消", "cancelled").render("zh")
        '已取消'
        """
        detail = render(self.detail, lang)
        if not self.zh and not self.en:  # nothing of our own to say: the detail alone
            return detail
        words = say(self.zh, self.en, lang)
        return f"{words}: {detail}" if detail else words

    def __str__(self) -> str:
        return self.render(DEFAULT_LANG)


def render(message: str | Words, lang: Lang = DEFAULT_LANG) -> str:
    """``message`` in ``lang``: :class:`Words` rendered, text (already written) unchanged.

    >>> render(Words("成功", "ok"), "en"), render("as written", "zh")
    ('ok', 'as written')
    """
    return message.render(lang) if isinstance(message, Words) else message


__all__ = ["DEFAULT_LANG", "LANGS", "Lang", "Words", "check_lang", "render", "say"]
