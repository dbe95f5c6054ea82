"""The sandbox as one ASGI app serving all five platforms at their real paths.

Example
-------
>>> app = create_app()
>>> sorted({r.path for r in app.routes} & {"/router/rest", "/api"})
['/api', '/router/rest']
"""

from __future__ import annotations

from starlette.applications import Starlette

from imgkit.sandbox import (
    control,
    doudian,
    qianmi_sku,
    taobao_miniapp,
    taobao_picture,
    tmall_item,
    top,
)
from imgkit.sandbox.pipeline import SandboxPlatform
from imgkit.sandbox.state import SandboxState

# Every platform the sandbox serves, by platform key (the TOP gateway's own refusals, for
# requests that name no known API, are served by ``top.GATEWAY``).
SANDBOX_PLATFORMS: dict[str, SandboxPlatform] = {
    taobao_picture.KEY: taobao_picture.PLATFORM,
    taobao_miniapp.KEY: taobao_miniapp.PLATFORM,
    tmall_item.KEY: tmall_item.PLATFORM,
    doudian.KEY: doudian.PLATFORM,
    qianmi_sku.KEY: qianmi_sku.PLATFORM,
}


def create_app(state: SandboxState | None = None) -> Starlette:
    """Build the app; pass a :class:`SandboxState` to share or inspect its memory."""
    state = state or SandboxState()
    app = Starlette(
        routes=[
            *taobao_picture.routes(state),
            *top.routes(
                state,
                [
                    taobao_miniapp.API,
                    taobao_miniapp.LOOKUP_API,
                    tmall_item.API,
                    tmall_item.LOOKUP_API,
                ],
            ),
            *doudian.routes(state),
            *qianmi_sku.routes(state),
            *control.routes(state),
        ]
    )
    app.state.sandbox = state
    return app
