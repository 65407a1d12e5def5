/**
 * Model benchmarks (issue goals: ≥ 200k task updates applied per second; children of a folded
 * group of 100k tasks produced in < 100 ms). Run: `npm run bench:model`.
 *
 * Each figure is the median of several runs in this one process, printed next to its goal
 * as a ratio. These machines are noisy: read the ratios, not the last digit.
 */

import { TaskModel } from '../../src/model/taskModel';
import { parseAgentMessage, TaskRecord } from '../../src/protocol/messages';
import { TaskArrangement } from '../../src/views/arrangement';

const site = { file: '/srv/app/crawler.py', line: 42, function: 'Crawler.run', user: true };
const hello = { type: 'hello' as const, protocol: 1, agent: 'bench', pid: 1, python: '3.11', argv: ['crawler.py'] };

function makeTask(i: number, state: TaskRecord['state'] = 'pending', line = 18): TaskRecord {
  return {
    id: `t${i}`,
    name: `fetch-${i}`,
    coro: 'fetch_page',
    state,
    parent: i === 1 ? null : 't1',
    loop: 'l1',
    created: 1_700_000_000_000 + i,
    site: i === 1 ? null : site,
    awaiting: [{ file: '/srv/app/crawler.py', line, function: 'fetch_page' }],
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function ingest(tasks: number, batches: number, batchSize: number): { modelMs: number; parseMs: number; updates: number } {
  const model = new TaskModel();
  const key = model.addProcess(hello).key;
  model.applySnapshot(key, { type: 'snapshot', seq: 1, time: 0, loops: [], tasks: Array.from({ length: tasks }, (_, i) => makeTask(i + 1)) });
  // Deltas as the agent sends them: new await points, state changes, finished tasks.
  const lines: string[] = [];
  for (let b = 0; b < batches; b++) {
    const upsert: TaskRecord[] = [];
    for (let j = 0; j < batchSize; j++) {
      const i = 2 + ((b * batchSize + j) % (tasks - 1));
      upsert.push(makeTask(i, j % 10 === 0 ? 'done' : 'pending', 18 + (b % 5)));
    }
    lines.push(JSON.stringify({ type: 'delta', seq: b + 2, time: b, upsert, remove: [] }));
  }
  const parsed = lines.map((l) => parseAgentMessage(l));
  const parseMs = time(() => lines.forEach((l) => parseAgentMessage(l)));
  const modelMs = time(() => {
    for (const p of parsed) if (p.ok && p.message.type === 'delta') model.applyDelta(key, p.message);
  });
  return { modelMs, parseMs, updates: batches * batchSize };
}

function foldChildren(n: number): { foldMs: number; childrenMs: number; rows: number } {
  const model = new TaskModel();
  const key = model.addProcess(hello).key;
  model.applySnapshot(key, { type: 'snapshot', seq: 1, time: 0, loops: [], tasks: Array.from({ length: n + 1 }, (_, i) => makeTask(i + 1)) });
  const arrangement = new TaskArrangement(model);
  const main = arrangement.taskNode(key, 't1');
  let fold = arrangement.children(main)[0];
  const foldMs = time(() => {
    fold = arrangement.children(main)[0];
  });
  let rows = 0;
  const childrenMs = time(() => {
    rows = arrangement.children(fold).length;
  });
  if (fold.kind !== 'fold' || rows !== n) throw new Error(`expected one fold of ${n}, got ${fold.kind} with ${rows}`);
  return { foldMs, childrenMs, rows };
}

function main(): void {
  const runs = Number(process.env.BENCH_RUNS) || 5;
  const ingestRuns = Array.from({ length: runs }, () => ingest(100_000, 50, 2_000));
  const perSecond = (ms: number, n: number) => (n / ms) * 1000;
  const modelRate = median(ingestRuns.map((r) => perSecond(r.modelMs, r.updates)));
  const parseRate = median(ingestRuns.map((r) => perSecond(r.parseMs, r.updates)));
  const foldRuns = Array.from({ length: runs }, () => foldChildren(100_000));
  const foldMs = median(foldRuns.map((r) => r.foldMs));
  const childrenMs = median(foldRuns.map((r) => r.childrenMs));

  const rows = [
    ['task updates applied by the model, per second (100k tasks, deltas of 2,000)', `${Math.round(modelRate).toLocaleString('en')}/s`, '≥ 200,000/s', (modelRate / 200_000).toFixed(2)],
    ['same, counting JSON parse and validation of each delta', `${Math.round(parseRate).toLocaleString('en')}/s`, '(for reference)', ''],
    ['fold 100k siblings into one row (children of their parent)', `${foldMs.toFixed(1)} ms`, '(for reference)', ''],
    ['children of a folded group of 100k tasks', `${childrenMs.toFixed(1)} ms`, '< 100 ms', (100 / childrenMs).toFixed(2)],
  ];
  console.log(`Model benchmark, median of ${runs} runs (Node ${process.version})`);
  console.log('| measure | result | goal | goal margin (×) |');
  console.log('| --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  const met = modelRate >= 200_000 && childrenMs < 100;
  console.log(met ? 'model goals: met' : 'model goals: NOT met');
  process.exitCode = met ? 0 : 1;
}

main();
