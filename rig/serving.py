"""Starting an aiohttp app on a host and port, with a clear error when the port is taken."""

from __future__ import annotations

from aiohttp import web

from rig.errors import RigError


async def start_site(
    app: web.Application, host: str, port: int, what: str, hint: str = "", reuse_port: bool = False
) -> web.AppRunner:
    """Serve `app`; returns the runner (call `cleanup()` to stop). Raises RigError if it cannot listen.
    `reuse_port`: several processes may listen on the port together (the kernel spreads connections)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    except OSError as exc:
        await runner.cleanup()
        raise RigError(
            f"{what} cannot listen on {host}:{port}: {exc.strerror or exc}"
            + (f" ({hint})" if hint else "")
        ) from None
    return runner
