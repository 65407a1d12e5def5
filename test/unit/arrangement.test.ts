import * as assert from 'assert';
import { TaskModel } from '../../src/model/taskModel';
import type { HelloMessage, TaskRecord } from '../../src/protocol/messages';
import { FoldNode, JoinNode, TaskArrangement, TaskNode, ViewNode } from '../../src/views/arrangement';

const hello: HelloMessage = { type: 'hello', protocol: 1, agent: '0.1.0', pid: 1, python: '3.11', argv: ['app.py'] };
let clock = 0;

function task(id: string, parent: string | null, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    name: id,
    coro: 'work',
    state: 'pending',
    parent,
    loop: 'l1',
    created: ++clock,
    site: { file: '/app/app.py', line: Number(id.replace(/\D/g, '')) || 1, function: 'f' },
    ...extra,
  };
}

function names(_arrangement: TaskArrangement, nodes: ViewNode[]): string[] {
  return nodes.map((n) => {
    switch (n.kind) {
      case 'task':
        return n.taskId;
      case 'fold':
        return `fold×${n.taskIds.length}`;
      case 'join':
        return `join:${n.label}`;
      case 'loop':
        return `loop:${n.loopId}`;
      default:
        return n.kind;
    }
  });
}

describe('TaskArrangement', () => {
  let model: TaskModel;
  let key: string;
  let arrangement: TaskArrangement;

  function load(tasks: TaskRecord[], loops = [{ id: 'l1', thread: 'MainThread', threadId: 1 }]) {
    model.applySnapshot(key, { type: 'snapshot', seq: 1, time: 0, loops, tasks });
    arrangement.invalidate();
  }
  const top = () => arrangement.children(arrangement.processNode(key));
  const under = (id: string) => arrangement.children(arrangement.taskNode(key, id));

  beforeEach(() => {
    model = new TaskModel();
    key = model.addProcess(hello).key;
    arrangement = new TaskArrangement(model);
  });

  it('by creator: nests tasks under their creator and hands out the same node each time', () => {
    load([task('t1', null), task('t2', 't1'), task('t3', 't2')]);
    assert.deepStrictEqual(names(arrangement, top()), ['t1']);
    assert.deepStrictEqual(names(arrangement, under('t1')), ['t2']);
    assert.strictEqual(under('t1')[0], arrangement.taskNode(key, 't2'));
    assert.strictEqual(arrangement.parent(arrangement.taskNode(key, 't3')), arrangement.taskNode(key, 't2'));
    assert.strictEqual(arrangement.parent(arrangement.taskNode(key, 't1')), arrangement.processNode(key));
  });

  it('folds siblings that share a creation site and coroutine, past the threshold', () => {
    const same = { site: { file: '/app/crawler.py', line: 42, function: 'run' }, coro: 'fetch_page' };
    const kids = Array.from({ length: 12 }, (_, i) => task(`t${i + 10}`, 't1', same));
    load([task('t1', null), ...kids, task('t2', 't1')]);
    arrangement.configure({ foldThreshold: 10 });
    const rows = under('t1');
    assert.deepStrictEqual(names(arrangement, rows), ['fold×12', 't2']);
    const fold = rows[0] as FoldNode;
    assert.strictEqual(fold.siteKey, '/app/crawler.py:42');
    assert.strictEqual(fold.coro, 'fetch_page');
    assert.deepStrictEqual(names(arrangement, arrangement.children(fold)), kids.map((k) => k.id));
    assert.strictEqual(under('t1')[0], fold, 'the fold row keeps its identity');
    arrangement.configure({ foldThreshold: 13 });
    assert.strictEqual(under('t1').length, 13);
    arrangement.configure({ foldThreshold: 0 });
    assert.strictEqual(under('t1').length, 13);
  });

  it('folds the tasks a library made (no frame of the program\'s on their stack) by the library\'s frame', () => {
    // A server's connection tasks: asyncio's streams make them in a callback of the event loop.
    const made = { file: '/usr/lib/python3.11/asyncio/streams.py', line: 258, function: 'StreamReaderProtocol.connection_made' };
    const dispatch = { file: '/usr/lib/python3.11/asyncio/events.py', line: 80, function: 'Handle._run' };
    // The agent gives the library frame's exact line on some routes, its function's first on others.
    const served = Array.from({ length: 12 }, (_, i) =>
      task(`t${i + 10}`, null, { site: null, stack: [i ? made : { ...made, line: 224 }, dispatch], coro: 'serve_page' }));
    const unknown = Array.from({ length: 12 }, (_, i) => task(`t${i + 30}`, null, { site: null, coro: 'serve_page' }));
    load([task('t1', null), ...served, ...unknown]);
    arrangement.configure({ foldThreshold: 10 });
    const folds = top().filter((n): n is FoldNode => n.kind === 'fold');
    assert.deepStrictEqual(folds.map((f) => [f.siteKey, f.madeBy, f.taskIds.length]), [
      ['/usr/lib/python3.11/asyncio/streams.py#StreamReaderProtocol.connection_made', 'StreamReaderProtocol.connection_made', 12],
      ['', undefined, 12],
    ]);
    arrangement.configure({ filter: 'streams.py' });
    assert.deepStrictEqual(names(arrangement, top()), ['fold×12'], 'the filter finds them by the file that made them');
  });

  it('a fold of more tasks than a part opens onto parts, oldest first, that keep their ids', () => {
    const same = { site: { file: '/app/crawler.py', line: 42, function: 'run' }, coro: 'fetch_page' };
    const kids = Array.from({ length: 25 }, (_, i) => task(`t${i + 10}`, 't1', same));
    load([task('t1', null), ...kids, task('t99', 't34')]);
    arrangement.configure({ foldThreshold: 10, foldPartSize: 10 });
    const [fold] = under('t1') as FoldNode[];
    assert.strictEqual(fold.taskIds.length, 25);
    const parts = arrangement.children(fold) as FoldNode[];
    assert.deepStrictEqual(parts.map((p) => [p.kind, p.offset, p.taskIds.length, p.total]), [['fold', 0, 10, 25], ['fold', 10, 10, 25], ['fold', 20, 5, 25]]);
    assert.deepStrictEqual(parts.flatMap((p) => names(arrangement, arrangement.children(p))), kids.map((k) => k.id));
    assert.deepStrictEqual(arrangement.children(parts[0]).map((r) => r.kind), Array(10).fill('task'), 'a part does not open onto parts');
    assert.strictEqual(new Set(parts.map((p) => p.id)).size, 3);
    // reveal: from a task in the last part up to the process
    const last = arrangement.taskNode(key, 't34');
    assert.strictEqual(arrangement.parent(last), parts[2]);
    assert.strictEqual(arrangement.parent(parts[2]), fold);
    assert.strictEqual(arrangement.parent(fold), arrangement.taskNode(key, 't1'));
    assert.strictEqual(arrangement.parent(arrangement.taskNode(key, 't99')), last, 'a task that one in a part created');

    // Five of the oldest go: the others move up, and the parts that stay are the same rows.
    model.applyDelta(key, { type: 'delta', seq: 2, time: 1, upsert: [], remove: kids.slice(0, 5).map((k) => k.id) });
    arrangement.invalidate(key);
    const [foldAfter] = under('t1') as FoldNode[];
    const partsAfter = arrangement.children(foldAfter) as FoldNode[];
    assert.deepStrictEqual(partsAfter, parts.slice(0, 2), 'the same two part rows');
    assert.deepStrictEqual(names(arrangement, arrangement.children(partsAfter[0])), kids.slice(5, 15).map((k) => k.id));
    assert.deepStrictEqual(names(arrangement, arrangement.children(partsAfter[1])), kids.slice(15).map((k) => k.id));

    // Filtered, the parts hold the tasks shown only; with parts off, the fold opens onto its tasks.
    model.applyDelta(key, { type: 'delta', seq: 3, time: 2, upsert: kids.slice(5, 17).map((k) => ({ ...k, name: `match-${k.id}` })), remove: [] });
    arrangement.configure({ filter: 'match-' });
    const [filtered] = under('t1') as FoldNode[];
    const filteredParts = arrangement.children(filtered) as FoldNode[];
    assert.deepStrictEqual(filteredParts.map((p) => [p.offset, p.total]), [[0, 12], [10, 12]]);
    assert.deepStrictEqual(names(arrangement, arrangement.children(filteredParts[1])), ['t25', 't26']);
    arrangement.configure({ filter: '', foldPartSize: 0 });
    assert.deepStrictEqual(names(arrangement, arrangement.children(under('t1')[0])), kids.slice(5).map((k) => k.id));
  });

  it('flat: every task at the top, no nesting', () => {
    load([task('t1', null), task('t2', 't1'), task('t3', 't2')]);
    arrangement.configure({ arrangement: 'flat' });
    assert.deepStrictEqual(names(arrangement, top()), ['t1', 't2', 't3']);
    assert.deepStrictEqual(under('t1'), []);
  });

  it('by awaiter: gathers and TaskGroups are nodes of their own, awaited tasks nest under their awaiter', () => {
    load([
      task('t1', null, { waitingOn: { kind: 'taskgroup', tasks: ['t2', 't3'], label: 'TaskGroup' } }),
      task('t2', 't1', { group: 'g1', waitingOn: { kind: 'task', tasks: ['t4'] } }),
      task('t3', 't1', { group: 'g1', waitingOn: { kind: 'gather', tasks: ['t5', 't6'], label: 'gather' } }),
      task('t4', 't2'),
      task('t5', 't3'),
      task('t6', 't3'),
      task('t7', 't1'),
    ]);
    arrangement.configure({ arrangement: 'awaiter' });
    assert.deepStrictEqual(names(arrangement, top()), ['t1', 't7']);
    const [group] = under('t1') as JoinNode[];
    assert.strictEqual(group.kind, 'join');
    assert.strictEqual(group.label, 'TaskGroup');
    assert.deepStrictEqual(names(arrangement, arrangement.children(group)), ['t2', 't3']);
    assert.deepStrictEqual(names(arrangement, under('t2')), ['t4']);
    const [gather] = under('t3') as JoinNode[];
    assert.deepStrictEqual(names(arrangement, arrangement.children(gather)), ['t5', 't6']);
  });

  it('by awaiter: a TaskGroup whose owner is busy elsewhere still shows under its owner', () => {
    load([
      task('t1', null, { waitingOn: { kind: 'sleep', label: 'sleep' } }),
      task('t2', 't1', { group: 'g1' }),
      task('t3', 't1', { group: 'g1' }),
    ]);
    arrangement.configure({ arrangement: 'awaiter' });
    assert.deepStrictEqual(names(arrangement, top()), ['t1']);
    const [group] = under('t1') as JoinNode[];
    assert.strictEqual(group.waitKind, 'group');
    assert.deepStrictEqual(names(arrangement, arrangement.children(group)), ['t2', 't3']);
  });

  it('filters by name, coroutine or file, keeping the path to each match', () => {
    load([
      task('t1', null),
      task('t2', 't1', { name: 'poller' }),
      task('t3', 't2', { name: 'leaf', coro: 'fetch_page' }),
      task('t4', 't1', { name: 'other' }),
    ]);
    arrangement.configure({ filter: 'FETCH' });
    assert.deepStrictEqual(names(arrangement, top()), ['t1']);
    assert.deepStrictEqual(names(arrangement, under('t1')), ['t2']);
    assert.deepStrictEqual(names(arrangement, under('t2')), ['t3']);
    arrangement.configure({ filter: 'no such thing' });
    assert.deepStrictEqual(top(), []);
    arrangement.configure({ filter: '' });
    assert.deepStrictEqual(names(arrangement, under('t1')), ['t2', 't4']);
  });

  it('hides finished tasks on request, lifting their live children', () => {
    load([task('t1', null), task('t2', 't1', { state: 'done', finished: 5 }), task('t3', 't2'), task('t4', 't1', { state: 'failed' })]);
    arrangement.configure({ hideFinished: true });
    assert.deepStrictEqual(names(arrangement, under('t1')), ['t3']);
    arrangement.configure({ hideFinished: false });
    assert.deepStrictEqual(names(arrangement, under('t1')), ['t2', 't4']);
  });

  it('shows a row per event loop when a process runs several', () => {
    load(
      [task('t1', null), task('t2', null, { loop: 'l2' }), task('t3', 't2', { loop: 'l2' })],
      [
        { id: 'l1', thread: 'MainThread', threadId: 1 },
        { id: 'l2', thread: 'worker', threadId: 2 },
      ],
    );
    const loops = top();
    assert.deepStrictEqual(names(arrangement, loops), ['loop:l1', 'loop:l2']);
    assert.deepStrictEqual(names(arrangement, arrangement.children(loops[1])), ['t2']);
    assert.strictEqual((arrangement.children(loops[0])[0] as TaskNode).taskId, 't1');
  });

  /** Every row of the tree, depth first, as the view would draw it with everything open. */
  function allRows(): ViewNode[] {
    const rows: ViewNode[] = [];
    const visit = (node: ViewNode | undefined, depth: number) => {
      assert.ok(depth < 32, 'the tree does not end');
      for (const child of arrangement.children(node)) {
        rows.push(child);
        visit(child, depth + 1);
      }
    };
    visit(undefined, 0);
    return rows;
  }

  function assertUniqueIds(rows: ViewNode[]): void {
    const seen = new Map<string, number>();
    for (const r of rows) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    assert.deepStrictEqual([...seen].filter(([, n]) => n > 1), [], 'VS Code rejects a tree with the same id twice');
  }

  it('by awaiter: a task two tasks wait on shows under both, each row with an id of its own that stays', () => {
    load([
      task('t1', null, { waitingOn: { kind: 'task', tasks: ['t3'] } }),
      task('t2', null, { waitingOn: { kind: 'task', tasks: ['t3'] } }),
      task('t3', null, { waitingOn: { kind: 'task', tasks: ['t4'] } }),
      task('t4', 't3'),
    ]);
    arrangement.configure({ arrangement: 'awaiter' });
    assert.deepStrictEqual(names(arrangement, top()), ['t1', 't2']);
    const [first] = under('t1') as TaskNode[];
    const [again] = under('t2') as TaskNode[];
    assert.deepStrictEqual([first.taskId, again.taskId], ['t3', 't3']);
    // Its first place keeps the task's own row; the other place is a row of its own.
    assert.strictEqual(first, arrangement.taskNode(key, 't3'));
    assert.notStrictEqual(again.id, first.id);
    assert.strictEqual(again.alias, true);
    // What it waits on shows under both places too, again with ids of their own.
    const [t4First] = arrangement.children(first) as TaskNode[];
    const [t4Again] = arrangement.children(again) as TaskNode[];
    assert.deepStrictEqual([t4First.taskId, t4Again.taskId], ['t4', 't4']);
    assert.notStrictEqual(t4First.id, t4Again.id);
    assertUniqueIds(allRows());
    // Stable: the same rows come back, and reveal finds the way up from each.
    assert.strictEqual(under('t2')[0], again);
    assert.strictEqual(arrangement.children(again)[0], t4Again);
    assert.strictEqual(arrangement.parent(t4Again), again);
    assert.strictEqual(arrangement.parent(again), arrangement.taskNode(key, 't2'));
    assert.strictEqual(arrangement.parent(t4First), first);
    assert.strictEqual(arrangement.parent(first), arrangement.taskNode(key, 't1'));
    // Every row of the task, for refreshing it.
    assert.deepStrictEqual(arrangement.rowsOf(key, 't3').map((r) => r.id).sort(), [first.id, again.id].sort());
    arrangement.forgetTask(key, 't3');
    assert.deepStrictEqual(arrangement.rowsOf(key, 't3').length, 1);
  });

  it('by awaiter: a task in a gather that another task also waits on, folded siblings too', () => {
    const same = { site: { file: '/app/app.py', line: 9, function: 'f' }, coro: 'fetch' };
    const kids = Array.from({ length: 3 }, (_, i) => task(`t${i + 10}`, 't1', same));
    load([
      task('t1', null, { waitingOn: { kind: 'gather', tasks: kids.map((k) => k.id), label: 'gather' } }),
      task('t2', null, { waitingOn: { kind: 'gather', tasks: kids.map((k) => k.id), label: 'gather' } }),
      ...kids,
    ]);
    arrangement.configure({ arrangement: 'awaiter', foldThreshold: 2 });
    const rows = allRows();
    assertUniqueIds(rows);
    const folds = rows.filter((r): r is FoldNode => r.kind === 'fold');
    assert.strictEqual(folds.length, 2, 'one folded row under each gather');
    for (const fold of folds) assert.deepStrictEqual(names(arrangement, arrangement.children(fold)), ['t10', 't11', 't12']);
    const placed = rows.filter((r): r is TaskNode => r.kind === 'task' && r.taskId === 't11');
    assert.strictEqual(placed.length, 2);
    for (const row of placed) {
      // reveal walks up from each place to the process
      let up: ViewNode | undefined = row;
      const chain: string[] = [];
      while (up) {
        chain.push(up.kind);
        up = arrangement.parent(up);
      }
      assert.deepStrictEqual(chain, ['task', 'fold', 'join', 'task', 'process']);
    }
  });

  it('by awaiter: the parts of a fold in a gather two tasks wait on have ids of their own, and lead up to the process', () => {
    const same = { site: { file: '/app/app.py', line: 9, function: 'f' }, coro: 'fetch' };
    const kids = Array.from({ length: 5 }, (_, i) => task(`t${i + 10}`, 't1', same));
    const gather = { kind: 'gather' as const, tasks: kids.map((k) => k.id), label: 'gather' };
    kids[4] = { ...kids[4], waitingOn: { kind: 'task', tasks: ['t50'] } };
    load([task('t1', null, { waitingOn: gather }), task('t2', null, { waitingOn: gather }), ...kids, task('t50', 't14')]);
    arrangement.configure({ arrangement: 'awaiter', foldThreshold: 2, foldPartSize: 2 });
    const rows = allRows();
    assertUniqueIds(rows);
    const parts = rows.filter((r): r is FoldNode => r.kind === 'fold' && r.offset !== undefined);
    assert.deepStrictEqual(parts.map((p) => p.taskIds.length), [2, 2, 1, 2, 2, 1], 'three parts under each gather');
    const placed = rows.filter((r): r is TaskNode => r.kind === 'task' && r.taskId === 't14');
    assert.strictEqual(placed.length, 2);
    assert.deepStrictEqual(placed.map((r) => Boolean(r.alias)).sort(), [false, true], 'one first place, one other');
    for (const row of placed) {
      let up: ViewNode | undefined = row;
      const chain: string[] = [];
      while (up) {
        chain.push(up.kind === 'fold' && up.offset !== undefined ? 'part' : up.kind);
        up = arrangement.parent(up);
      }
      assert.deepStrictEqual(chain, ['task', 'part', 'fold', 'join', 'task', 'process']);
    }
    // What a task in a part waits on is below its first place: reveal finds it through the part.
    const own = placed.find((r) => !r.alias)!;
    assert.strictEqual(arrangement.parent(arrangement.taskNode(key, 't50')), own);
  });

  it('by awaiter: tasks that wait on each other (a deadlock) show once, the ring cut and marked', () => {
    load([
      task('t1', null, { waitingOn: { kind: 'task', tasks: ['t2'] } }),
      task('t2', 't1', { waitingOn: { kind: 'task', tasks: ['t1'] } }),
    ]);
    arrangement.configure({ arrangement: 'awaiter' });
    assert.deepStrictEqual(names(arrangement, top()), ['t1']);
    const [t2] = under('t1') as TaskNode[];
    assert.strictEqual(t2.taskId, 't2');
    const [t1Again] = arrangement.children(t2) as TaskNode[];
    assert.strictEqual(t1Again.taskId, 't1');
    assert.strictEqual(t1Again.cycle, true);
    assert.deepStrictEqual(arrangement.children(t1Again), []);
    assertUniqueIds(allRows());
  });
});
