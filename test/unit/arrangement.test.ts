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
});
