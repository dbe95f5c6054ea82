"""The sandbox as one ASGI app serving every platform of its table at their real paths.

The routes come from :func:`imgkit.sandbox.registry.emulators`: each platform's own, then
one TOP gateway at ``/router/rest`` for every API served behind it, then the control
routes.

Example
-------
>>> app = create_app()
>>> sorted({r.path for r in app.routes} & {"/router/rest", "/api"})
['/api', '/router/rest']
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from imgkit.sandbox import control, registry, top
from imgkit.sandbox.pipeline import SandboxPlatform, method_refusals
from imgkit.sandbox.state import SandboxState

# Every platform the sandbox serves by default, by platform key (the TOP gateway's own
# refusals, for requests that name no known API, are served by ``top.GATEWAY``).
SANDBOX_PLATFORMS: dict[str, SandboxPlatform] = {
    key: emulator.platform for key, emulator in registry.emulators().items()
}


def create_app(state: SandboxState | None = None) -> Starlette:
    """Build the app; pass a :class:`SandboxState` to share or inspect its memory."""
    state = state or SandboxState()
    routes: list[Route] = []
    top_apis: list[top.TopApi] = []
    refusals: list[Route] = []
    for emulator in registry.emulators().values():
        if emulator.routes is not None:
            own = list(emulator.routes(state))
            routes.extend(own)
            refusals.extend(method_refusals(own, emulator.platform, state))
        top_apis.extend(emulator.top_apis)
    if top_apis:
        gateway = top.routes(state, top_apis)
        routes.extend(gateway)
        refusals.extend(method_refusals(gateway, top.GATEWAY, state))
    # After the platforms' own routes: a GET page on a path (vv-tool's authorize) wins.
    routes.extend(refusals)
    app = Starlette(routes=[*routes, *control.routes(state)])
    app.state.sandbox = state
    return app
