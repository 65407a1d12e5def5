/**
 * A large Python module for the linter benchmark: asyncio service code as it is usually
 * written (classes with async methods, queues, TaskGroups, gather, retries, cancellation
 * handled properly, plain helpers), deterministic, with a known number of dangling tasks:
 * some that both Ruff and TaskScope can see, some that only TaskScope sees.
 */

/** A small deterministic random generator (mulberry32), so every run lints the same text. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedModule {
  readonly text: string;
  /** 1-based lines of dangling tasks both linters should find (plain discarded or unused). */
  readonly plainDangling: number[];
  /** 1-based lines of dangling tasks only TaskScope is expected to find (`self.loop.create_task`, chained callback, local list). */
  readonly subtleDangling: number[];
}

export function generateModule(lines: number, seed = 7): GeneratedModule {
  const rnd = random(seed);
  const out: string[] = [
    '"""Generated for the lint benchmark: an asyncio service of many small parts."""',
    '',
    'import asyncio',
    'import json',
    'import logging',
    'from dataclasses import dataclass',
    '',
    'log = logging.getLogger(__name__)',
    'BACKGROUND: set[asyncio.Task] = set()',
    '',
  ];
  const plainDangling: number[] = [];
  const subtleDangling: number[] = [];
  const mark = (list: number[]) => list.push(out.length);
  let n = 0;
  while (out.length < lines) {
    n++;
    const kind = rnd();
    if (kind < 0.3) {
      out.push(
        '@dataclass',
        `class Record${n}:`,
        '    key: str',
        '    value: int = 0',
        '',
        '    def to_json(self) -> str:',
        '        return json.dumps({"key": self.key, "value": self.value})',
        '',
        `def parse_${n}(rows: list[dict]) -> list[Record${n}]:`,
        `    out = [Record${n}(row["key"], int(row.get("value", 0))) for row in rows if row]`,
        '    totals = {}',
        '    for record in out:',
        '        totals[record.key] = totals.get(record.key, 0) + record.value',
        '    return sorted(out, key=lambda r: (totals[r.key], r.key))',
        '',
        '',
      );
    } else if (kind < 0.75) {
      out.push(
        `class Worker${n}:`,
        '    def __init__(self, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop) -> None:',
        '        self.queue = queue',
        '        self.loop = loop',
        '        self.results: list[int] = []',
        '        self._task: asyncio.Task | None = None',
        '',
        '    async def handle(self, item: int) -> int:',
        '        await asyncio.sleep(0)',
        '        return item * 2',
        '',
        '    async def run(self) -> None:',
        '        while True:',
        '            item = await self.queue.get()',
        '            try:',
        '                self.results.append(await self.handle(item))',
        '            except asyncio.CancelledError:',
        '                log.info("worker stopping")',
        '                raise',
        '            except Exception:',
        '                log.exception("item %s failed", item)',
        '            finally:',
        '                self.queue.task_done()',
        '',
        '    def start(self) -> None:',
        '        self._task = asyncio.create_task(self.run())',
      );
      const r = rnd();
      if (r < 0.15) {
        out.push('');
        out.push('    def poke(self) -> None:');
        mark(subtleDangling);
        out.push('        self.loop.create_task(self.handle(0))');
      } else if (r < 0.3) {
        out.push('');
        out.push('    async def flush(self) -> None:');
        mark(plainDangling);
        out.push('        asyncio.create_task(self.handle(len(self.results)))');
      }
      out.push('', '');
    } else {
      out.push(
        `async def fetch_${n}(session, url: str, retries: int = 3) -> bytes:`,
        '    for attempt in range(retries):',
        '        try:',
        '            async with asyncio.timeout(10):',
        '                return await session.get(url)',
        '        except TimeoutError:',
        '            await asyncio.sleep(2**attempt)',
        '    raise RuntimeError(f"giving up on {url}")',
        '',
        '',
        `async def crawl_${n}(session, urls: list[str]) -> list[bytes]:`,
        '    async with asyncio.TaskGroup() as tg:',
        `        tasks = [tg.create_task(fetch_${n}(session, u)) for u in urls]`,
        '    pages = [t.result() for t in tasks]',
        `    results = await asyncio.gather(*(fetch_${n}(session, u) for u in urls[:2]))`,
        '    task = asyncio.create_task(asyncio.sleep(0))',
        '    BACKGROUND.add(task)',
        '    task.add_done_callback(BACKGROUND.discard)',
      );
      const r = rnd();
      if (r < 0.15) {
        mark(plainDangling);
        out.push('    pending = asyncio.ensure_future(asyncio.sleep(1))');
      } else if (r < 0.25) {
        mark(subtleDangling);
        out.push('    asyncio.create_task(asyncio.sleep(1)).add_done_callback(print)');
      }
      out.push('    return pages + list(results)', '', '');
    }
  }
  // `mark` recorded out.length before the push: that is the 1-based number of the pushed line minus one.
  return { text: out.join('\n') + '\n', plainDangling: plainDangling.map((l) => l + 1), subtleDangling: subtleDangling.map((l) => l + 1) };
}
