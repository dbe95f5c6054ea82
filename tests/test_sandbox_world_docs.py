"""Every answer ``docs/sandbox-world.md`` documents is reached with values from its tables.

The tables of the generated world reference are parsed here as a third-party client would
read them; for each row with an *answers* entry a request is built with the spec-only
clients (``spec_clients``, written from ``docs/protocols.md``) from the docs' values
alone - the app's secret from the apps table, a session of that app, an item of that
session's seller, and so on - sent over loopback HTTP, and its code (and sub-code) must be
the documented one.  The accepted rows make one successful upload per platform.  Nothing
here reads the sandbox's world but the completeness check at the end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from spec_clients import (
    fw199_upload,
    make_jpeg,
    qianmi_upload,
    top_call,
    vv_token,
    vv_upload,
)

from imgkit.sandbox import Sandbox

DOC = Path(__file__).resolve().parent.parent / "docs" / "sandbox-world.md"
TMALL_UPLOAD = "taobao.item.img.upload.tmall"
MINIAPP_UPLOAD = "taobao.miniapp.trade.picture.upload"
JPEG = make_jpeg()
Row = dict[str, str]
TABLES = (
    "TOP apps",
    "TOP sessions",
    "Tmall items",
    "Mini-apps",
    "vv-tool clients",
    "vv-tool shops",
    "fw199 apps",
    "Douyin sellers",
    "Douyin folders",
    "Douyin files",
    "Qianmi apps",
    "Qianmi tokens",
    "Qianmi SKUs",
)
_ANSWER = re.compile(r"`(\w+)\.(\w+)`: `([^`]+)`(?: `([^`]+)`)?(?: \((.*)\))?")


# --- reading the docs ---------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def parse_tables(text: str) -> dict[str, list[Row]]:
    """``### title`` → the rows of the table under it, as column name → cell text."""
    tables: dict[str, list[Row]] = {}
    title = ""
    head: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            title, head = line.lstrip("#").strip(), None
        elif not line.startswith("|"):
            head = None if not line.strip() else head
        elif head is None:
            head = _cells(line)
            tables[title] = []
        elif not set(line) <= set("|-: "):
            tables[title].append(dict(zip(head, _cells(line), strict=True)))
    return tables


def _read() -> dict[str, list[Row]]:
    return parse_tables(DOC.read_text(encoding="utf-8")) if DOC.exists() else {}


DOCS = _read()


def values(cell: str) -> list[str]:
    """The backticked values of a cell, in order (``none`` and blank cells have none)."""
    return re.findall(r"`([^`]*)`", cell)


def one(cell: str) -> str:
    found = values(cell)
    assert len(found) == 1, cell
    return found[0]


@dataclass(frozen=True)
class Expected:
    catalogue: str
    key: str
    code: str
    sub_code: str
    when: str


def expected(row: Row) -> Expected | None:
    cell = row.get("answers", "")
    if not cell:
        return None
    match = _ANSWER.fullmatch(cell)
    assert match, f"unreadable answers cell {cell!r}"
    catalogue, key, code, sub_code, when = match.groups()
    return Expected(catalogue, key, code, sub_code or "", when or "")


def table(title: str) -> list[Row]:
    assert title in DOCS, f"docs/sandbox-world.md has no table {title!r}"
    return DOCS[title]


def accepted(title: str, **where: str) -> Iterator[Row]:
    """Rows of ``title`` without an answer whose ``column`` holds ``value`` (backticked)."""
    for row in table(title):
        if expected(row) is None and all(value in values(row[k]) for k, value in where.items()):
            yield row


def first(rows: Iterator[Row], what: str) -> Row:
    found = next(rows, None)
    assert found is not None, f"docs/sandbox-world.md lists no {what}"
    return found


def row_of(title: str, column: str, value: str) -> Row:
    return first((r for r in table(title) if one(r[column]) == value), f"{title}: {value}")


# --- TOP ----------------------------------------------------------------------------------


def _allowed(app: Row, method: str) -> bool:
    return app["APIs"] == "all" or method in values(app["APIs"])


def top_upload(client: httpx.Client, app: Row, session: Row, method: str = "") -> httpx.Response:
    """An upload with ``app``'s key and secret and ``session``: to an accepted item of the
    session's seller (Tmall), or to a mini-app of the app."""
    app_key = one(app["app_key"])
    if not method:
        method = TMALL_UPLOAD if _allowed(app, TMALL_UPLOAD) else MINIAPP_UPLOAD
    if method == TMALL_UPLOAD:
        item = first(accepted("Tmall items", seller=one(session["seller"])), "item")
        params: dict[str, str] = {"num_iid": one(item["num_iid"])}
        files = {"image": ("cup.jpg", JPEG)}
    else:
        miniapp = first(accepted("Mini-apps", app_key=app_key), f"mini-app of {app_key}")
        params = {"miniapp_id": one(miniapp["miniapp_id"]), "file_name": "cup"}
        files = {"bytes": ("cup.jpg", JPEG)}
    return top_call(
        client,
        method=method,
        app_key=app_key,
        secret=one(app["secret"]),
        session=one(session["session"]),
        app_params=params,
        files=files,
    )


def _good_top_session(**where: str) -> tuple[Row, Row]:
    """An accepted session (matching ``where``) of an accepted app."""
    for session in accepted("TOP sessions", **where):
        app = row_of("TOP apps", "app_key", one(session["app_key"]))
        if expected(app) is None:
            return app, session
    raise AssertionError(f"no accepted TOP session with {where}")


def reach_top_app(client: httpx.Client, app: Row) -> httpx.Response:
    session = first(accepted("TOP sessions", app_key=one(app["app_key"])), "session")
    if app["APIs"] == "all":
        return top_upload(client, app, session)
    # An app limited to some APIs is refused for the others: call one it may not.
    method = next(m for m in (TMALL_UPLOAD, MINIAPP_UPLOAD) if not _allowed(app, m))
    return top_upload(client, app, session, method)


def reach_top_session(client: httpx.Client, session: Row) -> httpx.Response:
    app = row_of("TOP apps", "app_key", one(session["app_key"]))
    assert expected(app) is None
    return top_upload(client, app, session, TMALL_UPLOAD)


def reach_tmall_item(client: httpx.Client, item: Row) -> httpx.Response:
    app, session = _good_top_session(seller=one(item["seller"]))
    return top_call(
        client,
        method=TMALL_UPLOAD,
        app_key=one(app["app_key"]),
        secret=one(app["secret"]),
        session=one(session["session"]),
        app_params={"num_iid": one(item["num_iid"])},
        files={"image": ("cup.jpg", JPEG)},
    )


def top_answer(response: httpx.Response) -> tuple[str, str]:
    error = response.json()["error_response"]
    return str(error["code"]), str(error.get("sub_code", ""))


# --- vv-tool ------------------------------------------------------------------------------


def vv_shop_upload(client: httpx.Client, token: str, shop: Row) -> httpx.Response:
    return vv_upload(
        client,
        token=token,
        shop_id=one(shop["shop_id"]),
        img=JPEG,
        filename="cup.jpg",
        picture_category_id=values(shop["categories"])[0],
    )


def issued_token(client: httpx.Client, vv_client: Row) -> str:
    """A token from the token endpoint for the client's documented id and secret."""
    response = vv_token(
        client,
        client_id=one(vv_client["client_id"]),
        client_secret=one(vv_client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["access_token"])


def reach_vv_client(client: httpx.Client, vv_client: Row) -> list[httpx.Response]:
    shop = row_of("vv-tool shops", "shop_id", values(vv_client["shops"])[0])
    tokens = [*values(vv_client["tokens"]), issued_token(client, vv_client)]
    return [vv_shop_upload(client, token, shop) for token in tokens]


def reach_vv_shop(client: httpx.Client, shop: Row) -> httpx.Response:
    good = first(accepted("vv-tool clients"), "accepted vv-tool client")
    return vv_shop_upload(client, values(good["tokens"])[0], shop)


def vv_answer(response: httpx.Response) -> tuple[str, str]:
    return str(response.json()["code"]), ""


# --- fw199 / Douyin -----------------------------------------------------------------------


def _fw199_app_for(seller: str) -> Row:
    """An accepted app the seller authorized, or any accepted app when none did."""
    apps = list(accepted("fw199 apps"))
    assert apps, "docs/sandbox-world.md lists no accepted fw199 app"
    return next((app for app in apps if seller in values(app["sellers"])), apps[0])


def douyin_upload(
    client: httpx.Client, app: Row, seller: str, folder: str = "", file_uri: str = ""
) -> httpx.Response:
    if not folder:
        folder = one(first(accepted("Douyin folders", seller_nick=seller), "folder")["folder_id"])
    return fw199_upload(
        client,
        appid=one(app["appid"]),
        secret=one(app["secret"]),
        seller_nick=seller,
        material_name="cup",
        folder_id=folder,
        file=None if file_uri else JPEG,
        extra={"file_uri": file_uri} if file_uri else None,
    )


def reach_fw199_app(client: httpx.Client, app: Row) -> httpx.Response:
    seller = next(
        s
        for s in values(app["sellers"])
        if expected(row_of("Douyin sellers", "seller_nick", s)) is None
    )
    return douyin_upload(client, app, seller)


def reach_douyin_seller(client: httpx.Client, seller: Row) -> httpx.Response:
    nick = one(seller["seller_nick"])
    return douyin_upload(client, _fw199_app_for(nick), nick)


def reach_douyin_folder(client: httpx.Client, folder: Row) -> httpx.Response:
    nick = one(folder["seller_nick"])
    return douyin_upload(client, _fw199_app_for(nick), nick, folder=one(folder["folder_id"]))


def reach_douyin_file(client: httpx.Client, file: Row) -> httpx.Response:
    nick = one(file["seller_nick"])
    return douyin_upload(client, _fw199_app_for(nick), nick, file_uri=one(file["file_uri"]))


def douyin_answer(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    return str(body["code"]), str(body.get("sub_code", ""))


# --- Qianmi -------------------------------------------------------------------------------


def qianmi_sku_upload(client: httpx.Client, app: Row, token: Row, sku: Row) -> httpx.Response:
    return qianmi_upload(
        client,
        app_key=one(app["appKey"]),
        secret=one(app["secret"]),
        access_token=one(token["access_token"]),
        num_iid=one(sku["num_iid"]),
        sku_id=one(sku["sku_id"]),
        image_bytes=JPEG,
    )


def _good_sku(user: str) -> Row:
    return first(accepted("Qianmi SKUs", user=user), f"accepted SKU of {user}")


def _good_qianmi_token(**where: str) -> tuple[Row, Row]:
    for token in accepted("Qianmi tokens", **where):
        app = row_of("Qianmi apps", "appKey", one(token["appKey"]))
        if expected(app) is None:
            return app, token
    raise AssertionError(f"no accepted Qianmi token with {where}")


def reach_qianmi_app(client: httpx.Client, app: Row) -> httpx.Response:
    token = first(accepted("Qianmi tokens", appKey=one(app["appKey"])), "token of the app")
    return qianmi_sku_upload(client, app, token, _good_sku(one(token["user"])))


def reach_qianmi_token(client: httpx.Client, token: Row) -> httpx.Response:
    app = row_of("Qianmi apps", "appKey", one(token["appKey"]))
    assert expected(app) is None
    return qianmi_sku_upload(client, app, token, _good_sku(one(token["user"])))


def reach_qianmi_sku(client: httpx.Client, sku: Row) -> httpx.Response:
    app, token = _good_qianmi_token(user=one(sku["user"]))
    return qianmi_sku_upload(client, app, token, sku)


def qianmi_answer(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    sub_errors = body.get("subErrors", {}).get("subError", [])
    return str(body["code"]), str(sub_errors[0]["code"]) if sub_errors else ""


# --- the cases ----------------------------------------------------------------------------

Reach = Callable[[httpx.Client, Row], httpx.Response | list[httpx.Response]]
Read = Callable[[httpx.Response], tuple[str, str]]
REACH: dict[str, tuple[Reach, Read]] = {
    "TOP apps": (reach_top_app, top_answer),
    "TOP sessions": (reach_top_session, top_answer),
    "Tmall items": (reach_tmall_item, top_answer),
    "vv-tool clients": (reach_vv_client, vv_answer),
    "vv-tool shops": (reach_vv_shop, vv_answer),
    "fw199 apps": (reach_fw199_app, douyin_answer),
    "Douyin sellers": (reach_douyin_seller, douyin_answer),
    "Douyin folders": (reach_douyin_folder, douyin_answer),
    "Douyin files": (reach_douyin_file, douyin_answer),
    "Qianmi apps": (reach_qianmi_app, qianmi_answer),
    "Qianmi tokens": (reach_qianmi_token, qianmi_answer),
    "Qianmi SKUs": (reach_qianmi_sku, qianmi_answer),
}
CASES = [
    pytest.param(title, row, id=f"{title}:{values(next(iter(row.values())))[0]}:{answer.key}")
    for title, rows in DOCS.items()
    for row in rows
    if (answer := expected(row)) is not None
]


def test_the_doc_has_every_table_and_answers_to_reach() -> None:
    assert DOC.exists(), "docs/sandbox-world.md is missing: run python -m imgkit.docgen"
    missing = [title for title in TABLES if title not in DOCS]
    assert not missing, f"docs/sandbox-world.md lacks the tables {missing}"
    assert {title for title, _row in (case.values for case in CASES)} <= set(REACH)
    assert len(CASES) >= 20, [case.id for case in CASES]


@pytest.mark.parametrize(("title", "row"), CASES)
def test_each_documented_answer_is_reached_from_the_docs_alone(
    sandbox: Sandbox, title: str, row: Row
) -> None:
    answer = expected(row)
    assert answer is not None
    reach, read = REACH[title]
    with sandbox.client(timeout=30.0) as client:
        got = reach(client, row)
        responses = got if isinstance(got, list) else [got]
        for response in responses:
            assert read(response) == (answer.code, answer.sub_code), response.text


# --- positive controls: the accepted rows upload ------------------------------------------


def test_top_good_credentials_upload_to_tmall_and_a_mini_app(sandbox: Sandbox) -> None:
    item = first(accepted("Tmall items"), "accepted Tmall item")
    app, session = _good_top_session(seller=one(item["seller"]))
    miniapp = first(accepted("Mini-apps"), "mini-app")
    mini_app, mini_session = _good_top_session(app_key=one(miniapp["app_key"]))
    with sandbox.client(timeout=30.0) as client:
        body = top_upload(client, app, session, TMALL_UPLOAD).json()
        assert "item_img_upload_tmall_response" in body, body
        body = top_upload(client, mini_app, mini_session, MINIAPP_UPLOAD).json()
        result = body["miniapp_trade_picture_upload_response"]["result"]
        assert result["success"] is True, body


def test_vv_tool_good_client_uploads_with_a_fixed_and_an_issued_token(sandbox: Sandbox) -> None:
    good = first(accepted("vv-tool clients"), "accepted vv-tool client")
    with sandbox.client(timeout=30.0) as client:
        for token in (values(good["tokens"])[0], issued_token(client, good)):
            for shop_id in values(good["shops"]):
                shop = row_of("vv-tool shops", "shop_id", shop_id)
                for category in values(shop["categories"]):
                    response = vv_upload(
                        client,
                        token=token,
                        shop_id=shop_id,
                        img=JPEG,
                        filename="cup.jpg",
                        picture_category_id=category,
                    )
                    assert response.json()["code"] == 0, response.text


def test_fw199_good_app_uploads_to_every_image_folder_and_from_every_good_file(
    sandbox: Sandbox,
) -> None:
    app = first(accepted("fw199 apps"), "accepted fw199 app")
    with sandbox.client(timeout=30.0) as client:
        for seller in values(app["sellers"]):
            if expected(row_of("Douyin sellers", "seller_nick", seller)) is not None:
                continue
            for folder in accepted("Douyin folders", seller_nick=seller):
                response = douyin_upload(client, app, seller, folder=one(folder["folder_id"]))
                assert response.json()["code"] == 0, response.text
            for file in accepted("Douyin files", seller_nick=seller):
                response = douyin_upload(client, app, seller, file_uri=one(file["file_uri"]))
                assert response.json()["code"] == 0, response.text


def test_qianmi_good_token_uploads_to_every_good_sku(sandbox: Sandbox) -> None:
    app, token = _good_qianmi_token()
    with sandbox.client(timeout=30.0) as client:
        for sku in accepted("Qianmi SKUs", user=one(token["user"])):
            body = qianmi_sku_upload(client, app, token, sku).json()
            assert "sku_image_upload_response" in body, body


# --- completeness -------------------------------------------------------------------------


def test_every_entity_of_the_default_world_is_in_the_doc() -> None:
    """Someone adding to the world without regenerating the docs is caught here too."""
    from imgkit.sandbox.world import default_world

    world = default_world()

    def column(title: str, name: str) -> set[str]:
        return {one(row[name]) for row in table(title)}

    def pairs(title: str, a: str, b: str) -> set[tuple[str, str]]:
        return {(one(row[a]), one(row[b])) for row in table(title)}

    assert column("TOP apps", "app_key") == set(world.top_apps)
    assert column("TOP sessions", "session") == set(world.top_sessions)
    assert column("Tmall items", "num_iid") == set(world.tmall_items)
    assert column("Mini-apps", "miniapp_id") == set(world.miniapps)
    assert column("vv-tool clients", "client_id") == set(world.vv_clients)
    assert column("vv-tool shops", "shop_id") == set(world.vv_shops)
    assert column("fw199 apps", "appid") == set(world.fw199_apps)
    assert column("Douyin sellers", "seller_nick") == set(world.doudian_sellers)
    assert pairs("Douyin folders", "seller_nick", "folder_id") == {
        (nick, folder) for nick, s in world.doudian_sellers.items() for folder in s.folders
    }
    assert pairs("Douyin files", "seller_nick", "file_uri") == {
        (nick, uri) for nick, s in world.doudian_sellers.items() for uri in s.file_uris
    }
    assert column("Qianmi apps", "appKey") == set(world.qianmi_apps)
    assert column("Qianmi tokens", "access_token") == set(world.qianmi_tokens)
    assert pairs("Qianmi SKUs", "num_iid", "sku_id") == set(world.qianmi_skus)
    secrets = {
        one(row["secret"])
        for title in ("TOP apps", "fw199 apps", "Qianmi apps")
        for row in table(title)
    }
    assert {app.secret for app in world.top_apps.values()} <= secrets
    assert {app.secret for app in world.fw199_apps.values()} <= secrets
    assert {app.secret for app in world.qianmi_apps.values()} <= secrets
    tokens = {token for row in table("vv-tool clients") for token in values(row["tokens"])}
    assert tokens == {token for c in world.vv_clients.values() for token in c.tokens}
