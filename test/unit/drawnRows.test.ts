import * as assert from 'assert';
import { TaskModel } from '../../src/model/taskModel';
import type { HelloMessage, TaskRecord } from '../../src/protocol/messages';
import { TaskArrangement, ViewNode } from '../../src/views/arrangement';
import { DrawnRows, RedrawPlan } from '../../src/views/drawnRows';

const hello: HelloMessage = { type: 'hello', protocol: 1, agent: '0.1.0', pid: 1, python: '3.11', argv: ['app.py'] };
let clock = 0;

function task(id: string, parent: string | null, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id, name: id, coro: 'work', state: 'pending', parent, loop: 'l1', created: ++clock,
    site: { file: '/app/app.py', line: Number(id.replace(/\D/g, '')) || 1, function: 'f' },
    ...extra,
  };
}

describe('DrawnRows', () => {
  let model: TaskModel;
  let key: string;
  let arrangement: TaskArrangement;
  let drawn: DrawnRows;
  let seq: number;

  function load(tasks: TaskRecord[]) {
    model.applySnapshot(key, { type: 'snapshot', seq: ++seq, time: 0, loops: [{ id: 'l1', thread: 'MainThread', threadId: 1 }], tasks });
    arrangement.invalidate();
  }
  function change(upsert: TaskRecord[], remove: string[] = []) {
    model.applyDelta(key, { type: 'delta', seq: ++seq, time: 0, upsert, remove });
    arrangement.invalidate(key);
    for (const id of remove) arrangement.forgetTask(key, id);
  }
  /** What VS Code does: asks for the children of the top and of every expanded row, and records them. */
  function draw(expanded: (node: ViewNode) => boolean, node?: ViewNode) {
    const children = arrangement.children(node);
    drawn.record(node, children);
    for (const child of children) if (expanded(child)) draw(expanded, child);
  }
  const everything = () => true;
  const ids = (plan: RedrawPlan) => ({ subtrees: plan.subtrees.map((n) => n.id), rows: plan.rows.map((n) => n.id) });
  const plan = () => ids(drawn.changes(arrangement.processNode(key), (n) => arrangement.children(n)));
  const row = (id: string) => `${key}/${id}`;

  beforeEach(() => {
    model = new TaskModel();
    key = model.addProcess(hello).key;
    arrangement = new TaskArrangement(model);
    drawn = new DrawnRows();
    seq = 0;
  });

  it('by awaiter: a task that stops waiting on one of a gather redraws the gather row alone', () => {
    load([
      task('t1', null, { waitingOn: { kind: 'gather', tasks: ['t2', 't3'], label: 'gather' } }),
      task('t2', 't1', { waitingOn: { kind: 'sleep', label: 'sleep' } }),
      task('t3', 't1'),
      task('t4', null),
    ]);
    arrangement.configure({ arrangement: 'awaiter' });
    draw(everything);
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [] }, 'nothing changed, nothing to redraw');
    // t2's own text changes (it runs now): it stays where it is, so no row moves.
    change([task('t2', 't1', { state: 'running' })]);
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [] });
    // t3 finishes and leaves the gather: the gather row's count and children change, nothing else.
    change([task('t1', null, { waitingOn: { kind: 'gather', tasks: ['t2'], label: 'gather' } })], ['t3']);
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [`${row('t1')}~gather`] });
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [] }, 'a row redrawn is not named again');
  });

  it('by awaiter: a task that starts waiting on a top-level task moves it: the process\'s rows are redrawn', () => {
    load([task('t1', null, { waitingOn: { kind: 'sleep', label: 'sleep' } }), task('t2', null), task('t3', 't1')]);
    arrangement.configure({ arrangement: 'awaiter' });
    draw(everything);
    change([task('t1', null, { waitingOn: { kind: 'task', tasks: ['t2'] } })]);
    // The process's list changed (t2 left the top): it is redrawn with what is below it.
    assert.deepStrictEqual(plan(), { subtrees: [key], rows: [] });
    assert.strictEqual(drawn.size, 1, 'what was below a redrawn row is forgotten (asked for again); the list of processes stays');
  });

  it('by awaiter: a change deep in the tree redraws the row above it alone; a row never expanded is not compared', () => {
    load([
      task('t1', null, { waitingOn: { kind: 'task', tasks: ['t2'] } }),
      task('t2', 't1', { waitingOn: { kind: 'task', tasks: ['t3'] } }),
      task('t3', 't2'),
      task('t5', null),
    ]);
    arrangement.configure({ arrangement: 'awaiter' });
    draw(everything);
    // t3 now waits on a new task t4: only t3's row gained children.
    change([task('t3', 't2', { waitingOn: { kind: 'task', tasks: ['t4'] } }), task('t4', 't3')]);
    assert.deepStrictEqual(plan(), { subtrees: [row('t3')], rows: [] });
    // Had t3 never been expanded, its list would not be on record and nothing would be named
    // (its own row is redrawn because it changed: the provider does that).
    drawn.clear();
    draw((n) => n.id !== row('t3'));
    change([task('t4', 't3', { waitingOn: { kind: 'task', tasks: ['t6'] } }), task('t6', 't4')]);
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [] });
  });

  it('filtered by creator: a new matching task redraws its creator\'s row, not the process', () => {
    load([task('t1', null), task('t2', 't1', { name: 'poller' }), task('t3', 't2', { name: 'fetch-1' }), task('t9', null, { name: 'fetch-9' })]);
    arrangement.configure({ filter: 'fetch' });
    draw(everything);
    change([task('t4', 't2', { name: 'fetch-2' })]);
    assert.deepStrictEqual(plan(), { subtrees: [row('t2')], rows: [] });
    change([task('t5', 't2', { name: 'unrelated' })]);
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [] }, 'a task the filter hides changes nothing drawn');
  });

  it('finished tasks hidden: a task that finishes leaves its parent\'s row, which alone is redrawn', () => {
    load([task('t1', null), task('t2', 't1'), task('t3', 't1'), task('t4', null)]);
    arrangement.configure({ hideFinished: true });
    draw(everything);
    change([task('t3', 't1', { state: 'done', finished: 5 })]);
    assert.deepStrictEqual(plan(), { subtrees: [row('t1')], rows: [] });
  });

  it('a folded row whose count changed is redrawn as a row; its siblings are not', () => {
    const same = { site: { file: '/app/crawler.py', line: 42, function: 'run' }, coro: 'fetch_page' };
    const kids = Array.from({ length: 12 }, (_, i) => task(`t${i + 10}`, 't1', same));
    load([task('t1', null), ...kids, task('t2', 't1')]);
    arrangement.configure({ arrangement: 'creator', filter: 'app', foldThreshold: 10 });
    draw((n) => n.kind !== 'fold'); // the fold stays collapsed
    change([task('t30', 't1', same)]);
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [`${row('t1')}>/app/crawler.py:42|fetch_page`] });
  });

  it('a fold in parts: the open part whose tasks moved is redrawn alone, the fold as a row once its count changes', () => {
    const same = { site: { file: '/app/crawler.py', line: 42, function: 'run' }, coro: 'fetch_page' };
    const kids = Array.from({ length: 25 }, (_, i) => task(`t${i + 10}`, 't1', same));
    load([task('t1', null), ...kids]);
    arrangement.configure({ arrangement: 'creator', filter: 'app', foldThreshold: 10, foldPartSize: 10 });
    const fold = `${row('t1')}>/app/crawler.py:42|fetch_page`;
    draw((n) => n.kind !== 'fold' || n.id === fold || n.id === `${fold}#2`); // the fold and its second part open
    // An old task goes, a new one comes: as many as before, every part's tasks move up one. Of
    // the parts, only the second was opened (VS Code has the tasks of no other).
    change([task('t40', 't1', same)], ['t12']);
    assert.deepStrictEqual(plan(), { subtrees: [`${fold}#2`], rows: [] });
    // One more goes: the fold's count changed, and redrawing its row redraws what is below it.
    draw((n) => n.id === `${fold}#2`, arrangement.children(arrangement.taskNode(key, 't1'))[0]);
    change([], ['t13']);
    assert.deepStrictEqual(plan(), { subtrees: [], rows: [fold] });
  });

  it('tells which rows VS Code was given, until a row above them is redrawn', () => {
    const same = { site: { file: '/app/crawler.py', line: 42, function: 'run' }, coro: 'fetch_page' };
    const kids = Array.from({ length: 12 }, (_, i) => task(`t${i + 10}`, 't1', same));
    load([task('t1', null), ...kids, task('t2', 't1')]);
    arrangement.configure({ foldThreshold: 10 });
    draw((n) => n.kind !== 'fold'); // the fold stays collapsed: its tasks were never given
    assert.ok(drawn.isShown(key) && drawn.isShown(row('t1')) && drawn.isShown(row('t2')));
    assert.ok(!drawn.isShown(row('t10')), 'a task under a collapsed fold is not shown');
    const fold = arrangement.children(arrangement.taskNode(key, 't1'))[0];
    draw(() => false, fold); // the fold opens
    assert.ok(drawn.isShown(row('t10')));
    drawn.forget(arrangement.taskNode(key, 't1')); // t1 redrawn: VS Code asks again below it
    assert.ok(drawn.isShown(row('t1')), 'the row redrawn is still shown');
    assert.ok(!drawn.isShown(row('t2')) && !drawn.isShown(row('t10')), 'what was below it is asked for again');
    draw(() => true, arrangement.taskNode(key, 't1'));
    assert.ok(drawn.isShown(row('t2')) && drawn.isShown(row('t10')));
    draw(() => false); // the top again: the same processes, recorded once
    drawn.forget(arrangement.processNode(key));
    assert.ok(drawn.isShown(key) && !drawn.isShown(row('t1')));
    drawn.clear();
    assert.ok(!drawn.isShown(key));
  });
});
