/**
 * Model benchmarks (issue goals: ≥ 200k task updates applied per second; children of a folded
 * group of 100k tasks produced in < 100 ms: the parts of 1,000 tasks it opens onto). For reference, what the Tasks view spends by
 * awaiter after a change: comparing the rows it drew with the arrangement, against making
 * those rows for a redraw of the process (what it asked VS Code for before, at every change).
 * Run: `npm run bench:model`.
 *
 * Each figure is the median of several runs in this one process, printed next to its goal
 * as a ratio. These machines are noisy: read the ratios, not the last digit.
 */

import { TaskModel } from '../../src/model/taskModel';
import { parseAgentMessage, TaskRecord } from '../../src/protocol/messages';
import { FOLD_PART_SIZE, TaskArrangement, ViewNode } from '../../src/views/arrangement';
import { DrawnRows } from '../../src/views/drawnRows';

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

/**
 * A fold of n tasks: the fold made (children of their parent), its children (the parts it
 * opens onto), the rows of its last part, and for reference all n rows made at once (parts
 * off: what the view was handed before parts).
 */
function foldChildren(n: number): { foldMs: number; childrenMs: number; partMs: number; wholeMs: number } {
  const model = new TaskModel();
  const key = model.addProcess(hello).key;
  model.applySnapshot(key, { type: 'snapshot', seq: 1, time: 0, loops: [], tasks: Array.from({ length: n + 1 }, (_, i) => makeTask(i + 1)) });
  const arrangement = new TaskArrangement(model);
  const main = arrangement.taskNode(key, 't1');
  let fold = arrangement.children(main)[0];
  const foldMs = time(() => {
    fold = arrangement.children(main)[0];
  });
  let parts: ViewNode[] = [];
  const childrenMs = time(() => {
    parts = arrangement.children(fold);
  });
  const expectedParts = Math.ceil(n / FOLD_PART_SIZE);
  if (fold.kind !== 'fold' || parts.length !== expectedParts) throw new Error(`expected one fold of ${n} in ${expectedParts} parts, got ${fold.kind} with ${parts.length}`);
  let rows = 0;
  const partMs = time(() => {
    rows = arrangement.children(parts[parts.length - 1]).length;
  });
  if (rows !== n - (expectedParts - 1) * FOLD_PART_SIZE) throw new Error(`the last part holds ${rows} rows`);
  const whole = new TaskArrangement(model);
  whole.configure({ foldPartSize: 0 });
  const wholeFold = whole.children(whole.taskNode(key, 't1'))[0];
  const wholeMs = time(() => {
    rows = whole.children(wholeFold).length;
  });
  if (rows !== n) throw new Error(`expected ${n} rows without parts, got ${rows}`);
  return { foldMs, childrenMs, partMs, wholeMs };
}

/**
 * By awaiter, main waits on a gather of n tasks, drawn with the fold of n and each of its parts expanded (the worst
 * case) or collapsed; a delta changes the state of 2,000 of them (they stay where they are).
 * The view then compares what it drew with the arrangement (drawnRows.ts): the time of that,
 * against producing the same rows once (what VS Code's redraw of the process asked for before
 * the comparison, at every change).
 */
function compareDrawn(n: number, expandFold: boolean): { compareMs: number; drawMs: number } {
  const model = new TaskModel();
  const key = model.addProcess(hello).key;
  const tasks = Array.from({ length: n + 1 }, (_, i) => makeTask(i + 1));
  const ids = tasks.slice(1).map((t) => t.id);
  tasks[0] = { ...tasks[0], waitingOn: { kind: 'gather', tasks: ids, label: 'gather' } };
  model.applySnapshot(key, { type: 'snapshot', seq: 1, time: 0, loops: [], tasks });
  const arrangement = new TaskArrangement(model);
  arrangement.configure({ arrangement: 'awaiter' });
  const drawn = new DrawnRows();
  let rows = 0;
  // Open in the view: main (the only task with children), the gather, and the fold if asked.
  const expanded = (node: ViewNode) => (node.kind === 'task' ? node.taskId === 't1' : node.kind !== 'fold' || expandFold);
  const draw = (node?: ViewNode) => {
    const children = arrangement.children(node);
    drawn.record(node, children);
    rows += children.length;
    for (const child of children) if (expanded(child)) draw(child);
  };
  const drawMs = time(() => draw());
  if (rows < (expandFold ? n : 3)) throw new Error(`expected ${expandFold ? n : 3} rows drawn, got ${rows}`);
  const upsert = Array.from({ length: 2_000 }, (_, j) => makeTask(2 + j * 7, 'running'));
  model.applyDelta(key, { type: 'delta', seq: 2, time: 1, upsert, remove: [] });
  arrangement.invalidate(key);
  let named = 0;
  const compareMs = time(() => {
    const plan = drawn.changes(arrangement.processNode(key), (node) => arrangement.children(node));
    named = plan.subtrees.length + plan.rows.length;
  });
  if (named !== 0) throw new Error(`tasks that stayed in place named ${named} rows to redraw`);
  return { compareMs, drawMs };
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
  const partMs = median(foldRuns.map((r) => r.partMs));
  const wholeMs = median(foldRuns.map((r) => r.wholeMs));
  const compareRuns = Array.from({ length: runs }, () => compareDrawn(100_000, true));
  const compareMs = median(compareRuns.map((r) => r.compareMs));
  const drawMs = median(compareRuns.map((r) => r.drawMs));
  const collapsedRuns = Array.from({ length: runs }, () => compareDrawn(100_000, false));
  const collapsedCompareMs = median(collapsedRuns.map((r) => r.compareMs));
  const collapsedDrawMs = median(collapsedRuns.map((r) => r.drawMs));

  const rows = [
    ['task updates applied by the model, per second (100k tasks, deltas of 2,000)', `${Math.round(modelRate).toLocaleString('en')}/s`, '≥ 200,000/s', (modelRate / 200_000).toFixed(2)],
    ['same, counting JSON parse and validation of each delta', `${Math.round(parseRate).toLocaleString('en')}/s`, '(for reference)', ''],
    ['fold 100k siblings into one row (children of their parent)', `${foldMs.toFixed(1)} ms`, '(for reference)', ''],
    [`children of a folded group of 100k tasks (the ${Math.ceil(100_000 / FOLD_PART_SIZE)} parts it opens onto)`, `${childrenMs.toFixed(1)} ms`, '< 100 ms', (100 / childrenMs).toFixed(2)],
    [`children of one part (${FOLD_PART_SIZE.toLocaleString('en')} tasks)`, `${partMs.toFixed(1)} ms`, '(for reference)', ''],
    ['all 100k rows of the fold at once (parts off; before parts, the fold opened onto these)', `${wholeMs.toFixed(1)} ms`, '(for reference)', ''],
    ['by awaiter, 100k tasks in a gather, their fold collapsed: rows made for a redraw of the process', `${collapsedDrawMs.toFixed(1)} ms`, '(for reference)', ''],
    ['the same, 2,000 tasks changed in place: the rows drawn compared with the arrangement (none named)', `${collapsedCompareMs.toFixed(1)} ms`, '(for reference)', `${(collapsedCompareMs / collapsedDrawMs).toFixed(2)} of the above`],
    ['by awaiter, 100k tasks in a gather, their fold expanded: rows made for a redraw of the process', `${drawMs.toFixed(1)} ms`, '(for reference)', ''],
    ['the same, 2,000 tasks changed in place: the rows drawn compared with the arrangement (none named)', `${compareMs.toFixed(1)} ms`, '(for reference)', `${(compareMs / drawMs).toFixed(2)} of the above`],
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
