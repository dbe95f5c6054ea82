"""Shops: loading, ``env:`` indirection, checks that name the shop and field, masking."""

from __future__ import annotations

import copy
import logging
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from imgkit import Secret, ShopConfigError, load_shops, validate
from imgkit.intake.shops import ShopsFileExposedWarning, default_shops_path, warn_if_exposed

ROOT = Path(__file__).resolve().parent.parent
TMALL = {"platform": "tmall_item", "app_key": "21000001", "app_secret": "s3cr3t", "session": "sess"}


def one(table: dict[str, Any], environ: dict[str, str] | None = None) -> Any:
    return load_shops({"shop": table}, environ=environ or {})["shop"]


def test_the_sample_shops_file_loads_with_secrets_masked() -> None:
    shops = load_shops(ROOT / "sample_data" / "shops.toml", environ={})
    assert {s.platform for s in shops.values()} == {
        "taobao_picture",
        "taobao_miniapp",
        "tmall_item",
        "doudian",
        "qianmi_sku",
    }
    text = repr(list(shops.values()))
    for secret in ("sbx-top-secret-a", "sbx-session-tmall-1", "sbx-fw199-secret", "sbx-vv-token-1"):
        assert secret not in text
    assert shops["tmall_store"].get("app_secret") == "sbx-top-secret-a"
    assert shops["tmall_store"].base_url == "http://127.0.0.1:8765"


def test_secret_never_prints_and_is_never_pickled() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {secret!s} {[secret]} {secret:>20}"
    assert secret.reveal() == "hunter2"
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(secret)


def test_env_values_are_read_from_the_environment() -> None:
    shop = one({**TMALL, "app_secret": "env:TMALL_SECRET"}, {"TMALL_SECRET": "from-env"})
    assert shop.get("app_secret") == "from-env"
    assert isinstance(shop.fields["app_secret"], Secret)


def test_missing_env_variable_names_shop_field_and_variable() -> None:
    with pytest.raises(ShopConfigError) as info:
        one({**TMALL, "session": "env:NOPE"})
    message = str(info.value)
    assert "'shop'" in message
    assert "'session'" in message
    assert "NOPE" in message
    assert "环境变量" in message


@pytest.mark.parametrize("field", ["app_key", "app_secret", "session", "platform"])
def test_missing_field_is_named(field: str) -> None:
    table = {k: v for k, v in TMALL.items() if k != field}
    with pytest.raises(ShopConfigError, match=f"missing field '{field}'"):
        one(table)


def test_unknown_field_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ShopConfigError, match="unknown field 'app_secrt'") as info:
        one({**TMALL, "app_secrt": "x"})
    assert "app_secret" in str(info.value)


def test_unknown_platform_is_refused_in_both_languages() -> None:
    with pytest.raises(ShopConfigError, match="unknown platform") as info:
        one({**TMALL, "platform": "jd"})
    assert "未知平台" in str(info.value)


def test_alternatives_need_one_complete_option() -> None:
    base = {"platform": "淘宝图片空间", "shop_id": "1"}
    assert one({**base, "access_token": "t"}).platform == "taobao_picture"
    assert one({**base, "client_id": "c", "client_secret": "s"}).has("client_secret")
    with pytest.raises(
        ShopConfigError, match=re.escape("needs access_token or client_id + client_secret")
    ):
        one({**base, "client_id": "c"})


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8765", "ftp://host", "http://host/path", "http://", "https:/x"]
)
def test_base_url_must_be_scheme_host_port(url: str) -> None:
    with pytest.raises(ShopConfigError, match="base_url"):
        one({**TMALL, "base_url": url})


def test_base_url_trailing_slash_is_dropped() -> None:
    assert one({**TMALL, "base_url": "http://127.0.0.1:9/"}).base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize("rate", [0, -1, "5", True])
def test_rate_must_be_positive(rate: Any) -> None:
    with pytest.raises(ShopConfigError, match="rate_per_s"):
        one({**TMALL, "rate_per_s": rate})


def test_non_text_value_is_refused() -> None:
    with pytest.raises(ShopConfigError, match="must be text"):
        one({**TMALL, "app_key": ["a"]})


def test_default_path_comes_from_imgkit_shops(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[a]\nplatform = "天猫"\napp_key = "1"\napp_secret = "x"\nsession = "y"\n')
    path.chmod(0o600)  # it holds a secret: readable by others, it would be warned about
    assert default_shops_path({"IMGKIT_SHOPS": str(path)}) == path
    assert load_shops(environ={"IMGKIT_SHOPS": str(path)})["a"].platform == "tmall_item"


def test_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ShopConfigError, match="no shops file"):
        load_shops(tmp_path / "absent.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[a\nplatform=")
    with pytest.raises(ShopConfigError, match="not valid TOML"):
        load_shops(broken, environ={})


def test_resolve_by_shop_name_or_platform() -> None:
    shops = load_shops(ROOT / "sample_data" / "shops.toml", environ={})
    assert shops.resolve("tmall_outlet").name == "tmall_outlet"
    assert shops.resolve("天猫").name == "tmall_store"  # the first Tmall shop
    with pytest.raises(ShopConfigError, match="no shop named 'nope'") as info:
        shops.resolve("nope")
    assert "找不到店铺" in str(info.value)


# --- copies, pickles and exposed shops files ------------------------------------------------


def test_a_shop_deep_copies_and_pickles_with_its_secrets_masked() -> None:
    shop = one({**TMALL, "base_url": "http://127.0.0.1:9", "rate_per_s": 2, "account": "nick"})
    for twin in (copy.deepcopy(shop), copy.copy(shop), pickle.loads(pickle.dumps(shop))):
        assert twin == shop
        assert twin is not shop
        assert isinstance(twin.fields["app_secret"], Secret)
        assert twin.get("app_secret") == "s3cr3t"
        assert (twin.base_url, twin.rate_per_s, twin.account) == ("http://127.0.0.1:9", 2.0, "nick")
        assert "s3cr3t" not in repr(twin)
        assert "sess" not in repr(twin).replace("session", "")


def test_a_shops_mapping_pickles_whole() -> None:
    shops = load_shops(ROOT / "sample_data" / "shops.toml", environ={})
    back = pickle.loads(pickle.dumps(shops))
    assert dict(back) == dict(shops)
    assert back.origin == shops.origin
    assert back["tmall_store"].get("session") == shops["tmall_store"].get("session")


REAL_SHOP = '[real]\nplatform = "天猫"\napp_key = "1"\napp_secret = "s3cr3t"\nsession = "y"\n'


@pytest.mark.skipif(os.name == "nt", reason="Windows permissions are not mode bits")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_shops_file_others_may_read_is_warned_about_once(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / f"shops-{mode:o}.toml"
    path.write_text(REAL_SHOP)
    path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="imgkit.intake.shops"):
        with pytest.warns(ShopsFileExposedWarning) as caught:
            load_shops(path, environ={})
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a second load, and validate's, stay quiet
            load_shops(path, environ={})
            validate(pd.DataFrame(columns=["platform", "shop", "file", "target"]), shops=path)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message == (
        f"shops file {path} is readable by other users of this machine; it holds credentials: "
        f"run `chmod 600 {path}` / 店铺配置文件可被本机其他用户读取,其中含有凭证:"
        f"请运行 chmod 600 {path}"
    )
    assert [r.getMessage() for r in caplog.records if r.name == "imgkit.intake.shops"] == [message]


@pytest.mark.skipif(os.name == "nt", reason="Windows permissions are not mode bits")
def test_validate_warns_about_an_exposed_shops_file_too(tmp_path: Path) -> None:
    path = tmp_path / "shared shops.toml"  # a space: the command quotes the name
    path.write_text(REAL_SHOP)
    path.chmod(0o644)
    with pytest.warns(ShopsFileExposedWarning, match=re.escape(f"chmod 600 '{path}'")):
        validate(pd.DataFrame(columns=["platform", "shop", "file", "target"]), shops=path)


@pytest.mark.skipif(os.name == "nt", reason="Windows permissions are not mode bits")
@pytest.mark.parametrize(
    ("text", "mode"),
    [
        (REAL_SHOP, 0o600),  # only its owner reads it
        (REAL_SHOP, 0o400),
        (REAL_SHOP.replace('"s3cr3t"', '"env:S"').replace('"y"', '"env:T"'), 0o644),  # no secret
        # The sandbox's published keys (the sample shops file) protect nothing.
        ((ROOT / "sample_data" / "shops.toml").read_text(encoding="utf-8"), 0o644),
    ],
)
def test_no_warning_for_a_private_file_or_one_without_credentials(
    tmp_path: Path, text: str, mode: int
) -> None:
    path = tmp_path / "shops.toml"
    path.write_text(text)
    path.chmod(mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shops = load_shops(path, environ={"S": "s", "T": "t"})
    assert len(shops) >= 1
    assert warn_if_exposed(path, {"real": {}}) is False


@pytest.mark.skipif(os.name == "nt", reason="Windows permissions are not mode bits")
def test_real_credentials_on_a_loopback_tunnel_are_still_warned_about(tmp_path: Path) -> None:
    """A shop on 127.0.0.1 may be a tunnel to the real platform: only the sandbox's own
    published keys are exempt, not every loopback address."""
    path = tmp_path / "tunnel.toml"
    path.write_text(REAL_SHOP + 'base_url = "http://127.0.0.1:8765"\n')
    path.chmod(0o644)
    with pytest.warns(ShopsFileExposedWarning):
        load_shops(path)
