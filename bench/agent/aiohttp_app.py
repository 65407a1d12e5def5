"""The aiohttp application that `server.py` loads with wrk: ``aiohttp_app.py PORT``.

Each request does a little async work: it yields to the loop once, then spawns a short
task (which yields once more) and awaits it. Runs until SIGINT or SIGTERM.
"""

import asyncio
import sys

from aiohttp import web


async def _work(n):
    await asyncio.sleep(0)
    return n + 1


async def handle(request):
    await asyncio.sleep(0)
    value = await asyncio.create_task(_work(1))
    return web.Response(text="ok %d\n" % value)


def main():
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_get("/", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


if __name__ == "__main__":
    main()
