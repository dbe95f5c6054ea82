"""The platform registry: keys, aliases, and adapters imported on first use.

Example
-------
>>> resolve_platform("天猫商品图")
'tmall_item'
>>> get_adapter("Taobao_Picture").key
'taobao_picture'
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

from imgkit.errors import UnknownPlatformError

if TYPE_CHECKING:
    from imgkit.platforms.base import Adapter

# key → "module:Class"; imported only when the platform is used.
REGISTRY: dict[str, str] = {
    "taobao_picture": "imgkit.platforms.taobao_picture:TaobaoPictureAdapter",
    "taobao_miniapp": "imgkit.platforms.taobao_miniapp:TaobaoMiniappAdapter",
    "tmall_item": "imgkit.platforms.tmall_item:TmallItemAdapter",
    "doudian": "imgkit.platforms.doudian:DoudianAdapter",
    "qianmi_sku": "imgkit.platforms.qianmi_sku:QianmiSkuAdapter",
}

# Names analysts write in the platform column, normalized (lowercase, no spaces or dashes).
ALIASES: dict[str, tuple[str, ...]] = {
    "taobao_picture": ("淘宝图片空间", "图片空间", "淘宝图片", "taobao", "tbpicture", "vvtool"),
    "taobao_miniapp": ("淘宝小程序", "小程序", "轻应用", "miniapp"),
    "tmall_item": ("天猫商品图", "天猫", "天猫商品", "tmall"),
    "doudian": ("抖店素材", "抖店", "抖音", "抖音小店", "douyin"),
    "qianmi_sku": ("千米sku", "千米", "千米sku图片", "qianmi"),
}


def _normal(name: str) -> str:
    return "".join(name.split()).replace("-", "_").lower()


_LOOKUP: dict[str, str] = {
    **{_normal(key): key for key in REGISTRY},
    **{_normal(alias): key for key, aliases in ALIASES.items() for alias in aliases},
}


def platform_keys() -> tuple[str, ...]:
    """Every platform key, in registry order."""
    return tuple(REGISTRY)


def resolve_platform(name: str) -> str:
    """The platform key for a key or alias (case, spaces and dashes ignored)."""
    key = _LOOKUP.get(_normal(str(name)))
    if key is None:
        raise UnknownPlatformError(
            f"unknown platform {name!r} / 未知平台 {name!r}; known: {', '.join(REGISTRY)}",
            code="unknown_platform",
        )
    return key


@cache
def get_adapter(name: str) -> Adapter:
    """The adapter of a platform key or alias (one shared instance per platform)."""
    key = resolve_platform(name)
    module_name, _, class_name = REGISTRY[key].partition(":")
    adapter: Adapter = getattr(importlib.import_module(module_name), class_name)()
    return adapter


__all__ = ["ALIASES", "REGISTRY", "get_adapter", "platform_keys", "resolve_platform"]
