"""A small web crawler to watch with TaskScope.

It serves a made-up site on 127.0.0.1 (no network needed) and crawls it, round after round,
forever: a TaskGroup of workers takes links from a queue, each page is fetched in a task of
its own, and a progress reporter is started fire-and-forget (its task is never kept: the
bug TaskScope is built to show). Stop it with Ctrl-C.

    python -m taskscope run crawler.py            # or: TaskScope: Run Python File with Task Tracing
"""

import asyncio
import random
import re

PAGES = 60
WORKERS = 6
LINK = re.compile(rb'href="(/page/\d+)"')


async def serve_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers one HTTP request for /page/N with a few links, after a little latency."""
    request = await reader.readline()
    while (await reader.readline()).strip():
        pass  # skip the headers
    match = re.search(rb"/page/(\d+)", request)
    number = int(match.group(1)) if match else 0
    await asyncio.sleep(random.uniform(0.2, 1.5))
    links = "".join(f'<a href="/page/{random.randrange(PAGES)}">next</a>' for _ in range(3))
    body = f"<html><h1>Page {number}</h1>{links}</html>".encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def fetch(port: int, path: str) -> bytes:
    """GETs one page from the local site and returns its body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    return response.partition(b"\r\n\r\n")[2]


class Crawler:
    def __init__(self, port: int) -> None:
        self.port = port
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.seen: set[str] = set()
        self.fetched = 0

    async def worker(self) -> None:
        while True:
            path = await self.queue.get()
            try:
                # Each page in a task of its own, so a slow page shows up as a waiting task.
                page = asyncio.create_task(fetch(self.port, path), name=f"fetch {path}")
                body = await asyncio.wait_for(page, timeout=5)
                self.fetched += 1
                for link in LINK.findall(body):
                    url = link.decode()
                    if url not in self.seen and len(self.seen) < PAGES:
                        self.seen.add(url)
                        self.queue.put_nowait(url)
            except (OSError, asyncio.TimeoutError):
                pass
            finally:
                self.queue.task_done()

    async def crawl(self, start: str) -> int:
        self.seen = {start}
        self.queue.put_nowait(start)
        async with asyncio.TaskGroup() as group:
            workers = [group.create_task(self.worker(), name=f"worker-{i}") for i in range(WORKERS)]
            await self.queue.join()
            for w in workers:
                w.cancel()
        return self.fetched


async def report_progress(crawler: Crawler) -> None:
    while True:
        await asyncio.sleep(2)
        print(f"fetched {crawler.fetched} pages, {crawler.queue.qsize()} queued", flush=True)


async def main() -> None:
    server = await asyncio.start_server(serve_page, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"serving the demo site on 127.0.0.1:{port}", flush=True)
    crawler = Crawler(port)
    asyncio.create_task(report_progress(crawler), name="progress-reporter")  # fire-and-forget
    async with server:
        round_number = 0
        while True:
            round_number += 1
            crawler.fetched = 0
            fetched = await crawler.crawl("/page/0")
            print(f"round {round_number}: crawled {fetched} pages", flush=True)
            await asyncio.sleep(3)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
