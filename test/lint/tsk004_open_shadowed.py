"""TSK004 must stay quiet when `open` is an async library's and `requests` is a local."""

from aiofiles import open


async def read(path):
    async with open(path) as f:  # ok
        return await f.read()


async def lookup(requests, key):
    return requests.get(key)  # ok: a parameter named requests, and no import of the library
