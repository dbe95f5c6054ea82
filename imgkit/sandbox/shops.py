"""Sandbox credentials as a shops configuration, one or more shops per platform.

The same shops, with ``base_url = "http://127.0.0.1:8765"``, are in
``sample_data/shops.toml``; a test keeps the two in step.

Example
-------
>>> shops = sandbox_shops("http://127.0.0.1:9")
>>> shops["tmall_store"]["platform"], shops["tmall_store"]["base_url"]
('tmall_item', 'http://127.0.0.1:9')
"""

from __future__ import annotations

_SHOPS: dict[str, dict[str, str]] = {
    "tb_picture_main": {
        "platform": "taobao_picture",
        "shop_id": "sbx_tb_shop_1",
        "access_token": "sbx-vv-token-1",
    },
    "tb_picture_oauth": {
        "platform": "taobao_picture",
        "shop_id": "sbx_tb_shop_2",
        "client_id": "sbx-vv-client",
        "client_secret": "sbx-vv-client-secret",
    },
    "miniapp_main": {
        "platform": "taobao_miniapp",
        "app_key": "21000001",
        "app_secret": "sbx-top-secret-a",
        "session": "sbx-session-miniapp-1",
        "sign_method": "hmac",
    },
    "tmall_store": {
        "platform": "tmall_item",
        "app_key": "21000001",
        "app_secret": "sbx-top-secret-a",
        "session": "sbx-session-tmall-1",
        "sign_method": "hmac-sha256",
    },
    "tmall_outlet": {
        "platform": "tmall_item",
        "app_key": "21000002",
        "app_secret": "sbx-top-secret-b",
        "session": "sbx-session-tmall-2",
        "sign_method": "md5",
    },
    "douyin_shop": {
        "platform": "doudian",
        "appid": "sbx-fw199-app",
        "app_secret": "sbx-fw199-secret",
        "seller_nick": "38173182",
    },
    "qianmi_shop": {
        "platform": "qianmi_sku",
        "app_key": "10009001",
        "app_secret": "sbx-qianmi-secret",
        "access_token": "sbx-qm-token-1",
    },
}


def sandbox_shops(base_url: str) -> dict[str, dict[str, str]]:
    """Fresh copies of the sandbox shops, each with ``base_url`` set."""
    return {name: {**shop, "base_url": base_url} for name, shop in _SHOPS.items()}
