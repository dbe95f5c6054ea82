"""imgkit.scrub: every form a secret travels in is redacted, and nothing else is."""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import random
from urllib.parse import quote, quote_plus

import pytest

import imgkit.scrub as scrub
from imgkit.errors import Category
from imgkit.intake.shops import make_shop
from imgkit.platforms import get_adapter, platform_keys
from imgkit.platforms.base import Outcome
from imgkit.scrub import MARK, Scrubber, scrubber_for
from imgkit.scrub_forms import compile_secrets
from imgkit.scrub_logs import SecretFilter, register, scrub_record

# Non-ASCII, '+', '/', '=', a space and a quote: every encoder has something to do.
SECRET = 'SeCrEt-session-7f3a9c 密钥+/="x'
OTHER = "tok-ABCDEF-1234567890"


@pytest.fixture
def scrubber() -> Scrubber:
    return Scrubber([SECRET, OTHER])


def lower_hex(encoded: str) -> str:
    """``encoded`` with its %XX escapes in lower case (what some clients send)."""
    out, i = [], 0
    while i < len(encoded):
        if encoded[i] == "%":
            out.append(encoded[i : i + 3].lower())
            i += 3
        else:
            out.append(encoded[i])
            i += 1
    return "".join(out)


def forms(secret: str) -> dict[str, str]:
    data = secret.encode()
    b64 = base64.b64encode(data).decode()
    return {
        "raw": secret,
        "quote": quote(secret),
        "quote safe=''": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "quote lower hex": lower_hex(quote(secret, safe="")),
        "quote_plus lower hex": lower_hex(quote_plus(secret)),
        "double encoded": quote(quote(secret, safe=""), safe=""),
        "json ascii": json.dumps(secret),
        "json ascii upper hex": json.dumps(secret).replace("\\u5bc6", "\\u5BC6"),
        "json unicode": json.dumps(secret, ensure_ascii=False),
        "json twice": json.dumps(json.dumps(secret)),
        "json slash escaped": json.dumps(secret).replace("/", "\\/"),
        "html": html.escape(secret),
        "base64": b64,
        "base64 unpadded": b64.rstrip("="),
        "base64 urlsafe": base64.urlsafe_b64encode(data).decode(),
        "base64 urlsafe unpadded": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "base64 url-encoded": quote(b64, safe=""),
    }


@pytest.mark.parametrize("form", list(forms(SECRET)))
def test_every_form_of_a_secret_is_redacted(scrubber: Scrubber, form: str) -> None:
    encoded = forms(SECRET)[form]
    out = scrubber.text(f"before {encoded} after")
    assert out.startswith("before "), out
    assert out.endswith(" after"), out
    assert MARK in out
    assert not leftovers(out, SECRET), (form, out)


def leftovers(text: str, secret: str) -> list[str]:
    """Which of the forms of ``secret`` are still in ``text``."""
    return [name for name, value in forms(secret).items() if value in text]


@pytest.mark.parametrize("prefix_len", range(6))
@pytest.mark.parametrize("suffix_len", [0, 1, 2, 5])
def test_base64_embedded_in_a_longer_string_at_every_alignment(
    scrubber: Scrubber, prefix_len: int, suffix_len: int
) -> None:
    rng = random.Random(prefix_len * 10 + suffix_len)
    before, after = rng.randbytes(prefix_len), rng.randbytes(suffix_len)
    whole = before + SECRET.encode() + after
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(whole).decode()
        out = scrubber.text(encoded)
        assert MARK in out, (prefix_len, suffix_len, encoded)
        # What is left around the mark cannot be decoded back into the secret.
        assert SECRET.encode() not in _decodable(out)


def _decodable(text: str) -> bytes:
    """Every base64 reading of the pieces of ``text`` around marks, joined."""
    pieces = text.split(MARK)
    found = b""
    for piece in pieces:
        for start in range(4):
            chunk = piece[start:].replace("-", "+").replace("_", "/").rstrip("=")
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            with contextlib.suppress(ValueError):
                found += base64.b64decode(chunk) + b"|"
    return found


def test_http_basic_credentials_are_redacted() -> None:
    s = Scrubber(["client+secret/==xyz"])
    for client_id in ("a", "ab", "abc", "client-id-1"):
        header = "Basic " + base64.b64encode(f"{client_id}:client+secret/==xyz".encode()).decode()
        out = s.text(f"Authorization: {header}")
        assert MARK in out, client_id
        assert b"client+secret/==xyz" not in _decodable(out.removeprefix("Authorization: Basic "))


def test_short_and_empty_values_are_ignored() -> None:
    s = Scrubber(["", "12345", "abc", None])  # type: ignore[list-item]
    assert len(s) == 0
    assert s.pattern is None
    text = "code 12345 abc"
    assert s.text(text) is text
    assert Scrubber(["123456"]).text("code 123456") == f"code {MARK}"


def test_no_false_positives_on_ordinary_text(scrubber: Scrubber) -> None:
    texts = [
        "平台返回了无法识别的内容 / the platform answered something unreadable",
        '{"code": 100, "msg": "请求参数错误 picture_category_id", "sub_msg": "SeCrEt-sess"}',
        "GET /router/rest?app_key=21000001&method=taobao.item.img.upload.tmall&v=2.0",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        "SeCrEt-session-7f3a9c 密钥 (almost, but not the secret)",
        base64.b64encode(random.Random(1).randbytes(200_000)).decode(),
    ]
    for text in texts:
        assert scrubber.text(text) == text


def test_longer_secret_that_contains_another_is_redacted_whole() -> None:
    s = Scrubber(["abcdef", "xxabcdefyy"])
    assert s.text("1 xxabcdefyy 2 abcdef") == f"1 {MARK} 2 {MARK}"


def test_value_scrubs_through_containers_and_keys(scrubber: Scrubber) -> None:
    obj = {
        "echo": [f"Bearer {OTHER}", (OTHER, 3)],
        OTHER: {"nested": quote_plus(SECRET)},
        "n": 7,
        "f": None,
    }
    out = scrubber.value(obj)
    assert out == {
        "echo": [f"Bearer {MARK}", (MARK, 3)],
        MARK: {"nested": MARK},
        "n": 7,
        "f": None,
    }
    assert OTHER not in json.dumps(out)


def test_outcome_scrubs_texts_and_raw_and_keeps_clean_fields(scrubber: Scrubber) -> None:
    dirty = Outcome(
        ok=False,
        url="http://img.example/1.jpg",
        image_id="77",
        category=Category.UNKNOWN,
        code=f"HTTP 200 {OTHER}",
        sub_code=OTHER,
        message=f"session={quote_plus(SECRET)}",
        zh="平台返回了无法识别的内容",
        en=f"echo {OTHER}",
        raw={"headers": {"authorization": f"Bearer {OTHER}"}},
    )
    clean = scrubber.outcome(dirty)
    assert clean.url == dirty.url
    assert clean.image_id == "77"
    assert clean.zh == dirty.zh
    assert clean.category is Category.UNKNOWN
    assert clean.code == f"HTTP 200 {MARK}"
    assert clean.sub_code == MARK
    assert clean.message == f"session={MARK}"
    assert clean.en == f"echo {MARK}"
    assert clean.raw == {"headers": {"authorization": f"Bearer {MARK}"}}
    assert dirty.message != clean.message  # the original is untouched (frozen, copied)
    ok = Outcome(ok=True, url="http://img.example/2.jpg", image_id="2", raw={"id": 2})
    assert scrubber.outcome(ok) is ok
    with_secret_url = Outcome(ok=True, url=f"http://img.example/?t={OTHER}", image_id="3")
    assert scrubber.outcome(with_secret_url).url == f"http://img.example/?t={MARK}"


def test_the_pattern_is_compiled_once(scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = scrub._compile

    def counting(secrets: list[str]) -> object:
        calls.append(len(secrets))
        return real(secrets)

    monkeypatch.setattr(scrub, "_compile", counting)
    message = ("ordinary words 平台 " * 100) + f" {OTHER} " + quote(SECRET)
    first = scrubber.pattern
    for _ in range(1000):
        assert scrubber.text(message).count(MARK) == 2
    assert scrubber.pattern is first
    assert calls == [2]
    scrubber.add("a-new-token-xyz")  # a secret learned at run time: one rebuild
    assert scrubber.text("a-new-token-xyz") == MARK
    assert scrubber.pattern is not first
    assert calls == [2, 3]
    assert scrubber.add("a-new-token-xyz") is False  # known already: no rebuild
    scrubber.text("x")
    assert calls == [2, 3]


def test_an_empty_scrubber_does_no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(secrets: list[str]) -> object:
        raise AssertionError("compiled without secrets")

    monkeypatch.setattr(scrub, "_compile", boom)
    s = Scrubber()
    text, obj = "anything", {"a": ["b"]}
    assert s.text(text) is text
    assert s.value(obj) is obj
    out = Outcome(ok=False, message="m")
    assert s.outcome(out) is out
    assert not s


def test_repr_never_shows_a_secret(scrubber: Scrubber) -> None:
    assert repr(scrubber) == "Scrubber(2 secrets)"
    assert SECRET not in str(scrubber)
    assert OTHER not in repr(scrubber)


@pytest.mark.parametrize("platform", platform_keys())
def test_scrubber_for_takes_the_fields_its_adapter_declares_secret(platform: str) -> None:
    spec = get_adapter(platform).credentials
    fields = {
        name: f"value-of-{name}-{platform}"
        for name in {
            *spec.required,
            *spec.optional,
            *(f for g in spec.alternatives for o in g for f in o),
        }
        if name != "sign_method"
    }
    shop = make_shop("s", {"platform": platform, **fields})
    s = scrubber_for(shop)
    assert spec.secret, platform
    for name, value in fields.items():
        masked = s.text(value) == MARK
        assert masked == (name in spec.secret or "secret" in name or "token" in name), name


def test_scrubber_for_a_secret_looking_field_the_adapter_forgot() -> None:
    shop = make_shop(
        "tb",
        {"platform": "taobao_picture", "shop_id": "111111", "access_token": "tok-zzzzzz"},
    )
    assert scrubber_for(shop).text("111111 tok-zzzzzz") == f"111111 {MARK}"


def test_logs_of_imgkit_and_httpx_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    register("log-secret-4f2e1d", Scrubber(["log-token-9a8b7c"]), None)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("imgkit.engine.runner").info("row %s: %s", 3, "session=log-secret-4f2e1d")
    logging.getLogger("httpx").info("HTTP Request: POST http://x/?t=%s", "log-token-9a8b7c")
    logging.getLogger("httpcore.http11").debug("send %r", b"log-token-9a8b7c")
    try:
        raise ValueError("refused log-secret-4f2e1d")
    except ValueError:
        logging.getLogger("imgkit").exception("boom %s", quote("log-secret-4f2e1d"))
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "log-secret-4f2e1d" not in text
    assert "log-token-9a8b7c" not in text
    assert text.count(MARK) >= 5
    assert "ValueError" in caplog.text  # the traceback is still there, scrubbed


def test_other_loggers_are_left_alone_but_secret_filter_cleans_a_handler() -> None:
    register("log-secret-other-1")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    logger = logging.getLogger("someone.else")
    plain, filtered = Keep(), Keep()
    filtered.addFilter(SecretFilter())
    logger.addHandler(plain)
    try:
        logger.warning("x %s", "log-secret-other-1")
        assert records == ["x log-secret-other-1"]  # not ours: the factory leaves it
        logger.removeHandler(plain)
        logger.addHandler(filtered)
        logger.warning("x %s", "log-secret-other-1")
        assert records[-1] == f"x {MARK}"
    finally:
        logger.removeHandler(plain)
        logger.removeHandler(filtered)


def test_a_bad_format_string_is_still_scrubbed() -> None:
    record = logging.LogRecord("imgkit", logging.INFO, "", 0, "%d", ("log-secret-bad-1",), None)
    scrub_record(record, Scrubber(["log-secret-bad-1"]))
    assert record.getMessage() == f"%d {MARK}"


@pytest.mark.parametrize("cut", [6, 9, 20, len(SECRET) - 1])
def test_a_secret_cut_off_at_the_end_of_a_text_is_redacted(scrubber: Scrubber, cut: int) -> None:
    for encode in (str, quote_plus, lambda v: json.dumps(v)[1:-1]):
        head = encode(SECRET)
        # The first `cut` characters of the secret, in that encoding, end the text.
        partial = head[: len(encode(SECRET[:cut]))]
        assert scrubber.text(f"HTTP 502: session={partial}") == f"HTTP 502: session={MARK}"


def test_a_short_prefix_or_a_prefix_inside_the_text_is_kept(scrubber: Scrubber) -> None:
    assert scrubber.text("ends with SeCrE") == "ends with SeCrE"  # under 6 characters
    inside = "SeCrEt-session then more words"
    assert scrubber.text(inside) == inside


@pytest.mark.parametrize("seed", range(40))
def test_hits_says_exactly_when_a_text_would_change(seed: int) -> None:
    # The one-search fast path (Scrubber.hits, used by outcome() and the engine) must
    # never miss a text that text() would change: whole secrets in any form, cut-off ones
    # at a text's end, amid texts that hold nothing.
    rng = random.Random(seed)
    secret = "s3cr3t-" + "".join(rng.choice("abcdef0123456789/+=") for _ in range(12))
    s = scrub.Scrubber([secret])
    forms = [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]
    texts = [rng.choice(["ok", "上传成功", "code=0", "", "http://img/1.jpg"]) for _ in range(5)]
    kind = rng.choice(["none", "whole", "cut"])
    if kind == "whole":
        texts[rng.randrange(5)] += "echo " + rng.choice(forms) + " more"
    elif kind == "cut":
        texts[rng.randrange(5)] += " q=" + secret[: rng.randrange(scrub.MIN_LENGTH, len(secret))]
    changed = any(s.text(t) != t for t in texts)
    assert changed == (kind != "none")
    assert s.hits(texts) == changed


@pytest.mark.parametrize("cut", [None, scrub.MIN_LENGTH, 9, 17])
def test_the_quick_look_finds_whatever_the_whole_patterns_find(cut: int | None) -> None:
    # Scrubber.text and hits trust a text the quick pattern finds nothing in, without
    # building the whole patterns: every match of those must start a match of the quick.
    compiled = compile_secrets(sorted([SECRET, OTHER], key=len, reverse=True))
    for name, form in {**forms(SECRET), **forms(OTHER)}.items():
        text = f"echo {form} more" if cut is None else f"echo {form[:cut]}"
        found = compiled.whole.search(text) or compiled.tails.search(text)
        if found:
            quick = compiled.quick.search(text)
            assert quick is not None, name
            assert quick.start() <= found.start(), name


def test_clean_texts_never_build_the_whole_patterns() -> None:
    # Compiling the whole patterns of a dozen long tokens takes Python's re hundreds of
    # milliseconds; a run whose answers echo nothing must not pay it.
    tokens = [f"tok-{i:02d}-" + "x7Kq9Z" * 6 for i in range(12)]
    s = Scrubber(tokens)
    assert not s.hits(["code=0", '{"msg":"ok","url":"http://127.0.0.1/i/1.jpg"}'])
    assert s.text("all fine") == "all fine"
    compiled = s._patterns()
    assert compiled is not None
    assert not {"whole", "tail", "tails"} & set(vars(compiled))
    assert s.text(f"echo {tokens[3]}") == f"echo {MARK}"
    assert "whole" in vars(compiled)


@pytest.mark.parametrize("seed", range(60))
def test_an_answer_the_shortcut_calls_clean_holds_no_secret(seed: int) -> None:
    # Scrubber.outcome trusts an answer whose JSON, written out again, the quick look finds
    # nothing in: it must never trust one that holds a secret, in any form, anywhere (keys,
    # nested values, beside quotes, backslashes and control characters that get escaped).
    rng = random.Random(seed)
    # A secret that starts with what JSON escapes: written out, it no longer reads the same.
    escaped = '"\\q\tuote-secret-99'
    s = Scrubber([SECRET, OTHER, escaped])
    pieces = ["ok", "上传成功", 'say "hi"', "back\\slash", "tab\there", "\x01", 7, None, 2.5]
    every_form = [*forms(SECRET).values(), *forms(OTHER).values(), escaped]

    def value(depth: int) -> object:
        roll = rng.random()
        if depth < 3 and roll < 0.3:
            return {str(rng.choice(pieces)): value(depth + 1) for _ in range(rng.randrange(4))}
        if depth < 3 and roll < 0.45:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        if roll < 0.6:
            return f"echo {rng.choice(every_form)} more"
        if roll < 0.65:  # a secret as a key
            return {rng.choice(every_form): 1}
        return rng.choice(pieces)

    raw = {"data": value(0)}
    texts = ["", "msg", "http://img/1.jpg"]
    truth = s.hits([*texts, *scrub._strings(raw)])
    if s._clean(texts, raw):
        assert not truth, raw
    assert (s.outcome(Outcome(ok=True, raw=raw)).raw == raw) == (not truth)
