import * as assert from 'assert';
import { ModelChange, processTitle, TaskModel } from '../../src/model/taskModel';
import type { HelloMessage, TaskRecord } from '../../src/protocol/messages';

const hello: HelloMessage = { type: 'hello', protocol: 1, agent: '0.1.0', pid: 42, python: '3.11.7', argv: ['/app/crawler.py', '-v'] };

let created = 0;
function task(id: string, parent: string | null, extra: Partial<TaskRecord> = {}): TaskRecord {
  return { id, name: `name-${id}`, coro: 'work', state: 'pending', parent, loop: 'l1', created: ++created, site: null, ...extra };
}

function ids(tasks: TaskRecord[]): string[] {
  return tasks.map((t) => t.id);
}

describe('TaskModel', () => {
  let model: TaskModel;
  let changes: ModelChange[];
  let key: string;

  beforeEach(() => {
    model = new TaskModel();
    changes = [];
    model.onDidChange((c) => changes.push(c));
    key = model.addProcess(hello).key;
    model.applySnapshot(key, {
      type: 'snapshot',
      seq: 1,
      time: 0,
      loops: [{ id: 'l1', thread: 'MainThread', threadId: 1 }],
      tasks: [task('t1', null), task('t3', 't1'), task('t2', 't1'), task('t4', 't2')],
    });
    changes.length = 0;
  });

  it('nests tasks under their creator, oldest first', () => {
    assert.deepStrictEqual(ids(model.children(key, null)), ['t1']);
    assert.deepStrictEqual(ids(model.children(key, 't1')), ['t3', 't2']);
    assert.deepStrictEqual(ids(model.children(key, 't2')), ['t4']);
    assert.deepStrictEqual(ids(model.children(key, 't4')), []);
    assert.strictEqual(model.taskCount(key), 4);
    assert.deepStrictEqual(model.loops(key), [{ id: 'l1', thread: 'MainThread', threadId: 1 }]);
  });

  it('applies a delta and says exactly which rows changed', () => {
    model.applyDelta(key, {
      type: 'delta',
      seq: 2,
      time: 1,
      upsert: [task('t5', 't2'), { ...model.task(key, 't3')!, state: 'done' }],
      remove: ['t4'],
    });
    assert.deepStrictEqual(ids(model.children(key, 't2')), ['t5']);
    assert.strictEqual(model.task(key, 't3')!.state, 'done');
    assert.strictEqual(model.task(key, 't4'), undefined);
    assert.strictEqual(changes.length, 1);
    assert.deepStrictEqual(changes[0].updated, ['t3']);
    assert.deepStrictEqual([...changes[0].parents].sort(), ['t2']);
    assert.deepStrictEqual(changes[0].removed, ['t4']);
    assert.strictEqual(changes[0].reset, false);
  });

  it('moves the children of a forgotten task to the top level', () => {
    model.applyDelta(key, { type: 'delta', seq: 2, time: 1, upsert: [], remove: ['t2'] });
    assert.deepStrictEqual(ids(model.children(key, null)), ['t1', 't4']);
    assert.ok(changes[0].parents.includes(null));
    assert.ok(changes[0].parents.includes('t1'));
  });

  it('moves a child under its parent when the parent arrives after it', () => {
    model.applyDelta(key, { type: 'delta', seq: 2, time: 1, upsert: [task('t9', 't8')], remove: [] });
    assert.deepStrictEqual(ids(model.children(key, null)), ['t1', 't9']);
    model.applyDelta(key, { type: 'delta', seq: 3, time: 1, upsert: [task('t8', 't1')], remove: [] });
    assert.deepStrictEqual(ids(model.children(key, null)), ['t1']);
    assert.deepStrictEqual(ids(model.children(key, 't8')), ['t9']);
  });

  it('does not fire for a delta that changes nothing, nor for removing unknown tasks', () => {
    model.applyDelta(key, { type: 'delta', seq: 2, time: 1, upsert: [], remove: ['t77'] });
    assert.strictEqual(changes.length, 0);
  });

  it('replaces everything on a new snapshot', () => {
    model.applySnapshot(key, { type: 'snapshot', seq: 5, time: 2, loops: [], tasks: [task('t10', null)] });
    assert.deepStrictEqual(ids(model.children(key, null)), ['t10']);
    assert.deepStrictEqual(ids(model.children(key, 't1')), []);
    assert.strictEqual(model.task(key, 't1'), undefined);
    assert.strictEqual(changes[0].reset, true);
  });

  it('keeps an exited process and its tasks until removed', () => {
    model.markExited(key, 3);
    assert.strictEqual(model.process(key)!.status, 'exited');
    assert.strictEqual(model.process(key)!.exitCode, 3);
    assert.deepStrictEqual(ids(model.children(key, null)), ['t1']);
    model.markExited(key, 0);
    assert.strictEqual(model.process(key)!.exitCode, 3, 'the first exit wins');
    assert.ok(model.removeProcess(key));
    assert.deepStrictEqual(model.processes(), []);
    assert.deepStrictEqual(model.children(key, null), []);
  });

  it('keeps processes apart', () => {
    const other = model.addProcess({ ...hello, pid: 43 }).key;
    assert.notStrictEqual(other, key);
    model.applySnapshot(other, { type: 'snapshot', seq: 1, time: 0, loops: [], tasks: [task('t1', null, { name: 'other' })] });
    assert.strictEqual(model.task(key, 't1')!.name, 'name-t1');
    assert.strictEqual(model.task(other, 't1')!.name, 'other');
    assert.deepStrictEqual(model.processes().map((p) => p.pid), [42, 43]);
  });

  it('titles a process by its script, its module, or its own title', () => {
    assert.strictEqual(processTitle({ argv: ['/app/crawler.py', '-v'] }), 'crawler.py');
    assert.strictEqual(processTitle({ argv: ['-m', 'server.main'] }), 'server.main');
    assert.strictEqual(processTitle({ argv: ['x.py'], title: 'api' }), 'api');
    assert.strictEqual(processTitle({ argv: [] }), 'python');
  });
});

describe('TaskModel history', () => {
  it('forgets finished tasks older than the cutoff, and only those', () => {
    const model = new TaskModel();
    const key = model.addProcess(hello).key;
    model.applySnapshot(key, {
      type: 'snapshot',
      seq: 1,
      time: 0,
      loops: [],
      tasks: [
        task('t1', null),
        task('t2', 't1', { state: 'done', finished: 100 }),
        task('t3', 't2'),
        task('t4', 't1', { state: 'failed', finished: 900 }),
      ],
    });
    const changes: ModelChange[] = [];
    model.onDidChange((c) => changes.push(c));
    assert.strictEqual(model.pruneFinished(500), 1);
    assert.strictEqual(model.task(key, 't2'), undefined);
    assert.ok(model.task(key, 't4'));
    assert.deepStrictEqual(ids(model.children(key, null)), ['t1', 't3']);
    assert.deepStrictEqual(changes[0].removed, ['t2']);
    assert.strictEqual(model.pruneFinished(500), 0);
  });

  it('keeps every finished task of a process that exited: the picture of how it ended', () => {
    const model = new TaskModel();
    const key = model.addProcess(hello).key;
    model.applySnapshot(key, {
      type: 'snapshot', seq: 1, time: 0, loops: [],
      tasks: [task('t1', null, { state: 'done', finished: 100 }), task('t2', 't1', { state: 'cancelled', finished: 200 })],
    });
    model.markExited(key, 0);
    assert.strictEqual(model.pruneFinished(Date.now()), 0);
    assert.deepStrictEqual(ids(model.allTasks(key)), ['t1', 't2']);
  });
});
