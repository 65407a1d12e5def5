import * as assert from 'assert';
import { TaskModel } from '../../src/model/taskModel';
import { cancelConfirmation, cancelledWith, cancelTreeConfirmation, descendants, formatStack } from '../../src/model/taskRelations';
import type { TaskRecord } from '../../src/protocol/messages';

let clock = 0;
function task(id: string, parent: string | null, extra: Partial<TaskRecord> = {}): TaskRecord {
  return { id, name: id, coro: 'work', state: 'pending', parent, loop: 'l1', created: ++clock, site: null, ...extra };
}

describe('task relations', () => {
  const model = new TaskModel();
  const key = model.addProcess({ type: 'hello', protocol: 1, agent: '0', pid: 1, python: '3.11', argv: [] }).key;
  model.applySnapshot(key, {
    type: 'snapshot',
    seq: 1,
    time: 0,
    loops: [],
    tasks: [
      task('t1', null, { waitingOn: { kind: 'gather', tasks: ['t2', 't3', 't4'] } }),
      task('t2', 't1', { waitingOn: { kind: 'task', tasks: ['t5'] } }),
      task('t3', 't1'),
      task('t4', 't1', { state: 'done' }),
      task('t5', 't2'),
      task('t6', 't5'),
      task('t7', 't6', { state: 'cancelled' }),
      task('t8', null, { waitingOn: { kind: 'wait', tasks: ['t3'] } }),
    ],
  });

  it('cancelling a task cancels what it waits on, transitively, but not finished tasks', () => {
    assert.deepStrictEqual(cancelledWith(model, key, 't1').map((t) => t.id), ['t2', 't3', 't5']);
    assert.deepStrictEqual(cancelledWith(model, key, 't3'), []);
    assert.deepStrictEqual(cancelledWith(model, key, 't8'), [], 'asyncio.wait leaves its tasks running when cancelled');
  });

  it('finds every live task a task created, transitively', () => {
    assert.deepStrictEqual(descendants(model, key, 't2').map((t) => t.id).sort(), ['t5', 't6']);
    assert.deepStrictEqual(descendants(model, key, 't1').map((t) => t.id).sort(), ['t2', 't3', 't5', 't6']);
  });

  it('asks before cancelling, naming the tasks cancelled with it', () => {
    const branch = model.task(key, 't1')!;
    assert.deepStrictEqual(cancelConfirmation(branch, cancelledWith(model, key, 't1')), {
      message: "Cancel task 't1' (work)?",
      detail: "Cancelling it also cancels the 3 tasks it waits on: 't2', 't3', 't5'.",
      button: 'Cancel Task',
    });
    assert.strictEqual(cancelConfirmation(model.task(key, 't2')!, cancelledWith(model, key, 't2')).detail, "Cancelling it also cancels the task it waits on: 't5'.");
    assert.strictEqual(cancelConfirmation(model.task(key, 't8')!, cancelledWith(model, key, 't8')).detail, 'Cancelling it cancels no other task.');
    const many = Array.from({ length: 11 }, (_, i) => task(`m${i}`, 't1'));
    assert.match(cancelConfirmation(branch, many).detail, /the 11 tasks it waits on: 'm0', .*'m7', and 3 more\.$/);
  });

  it('asks before cancelling a task and what it created, naming them', () => {
    const t2 = model.task(key, 't2')!;
    assert.deepStrictEqual(cancelTreeConfirmation(t2, descendants(model, key, 't2')), {
      message: "Cancel task 't2' and everything it created?",
      detail: "It created 2 live tasks: 't5', 't6'.",
      button: 'Cancel All',
    });
    assert.strictEqual(cancelTreeConfirmation(model.task(key, 't3')!, []).detail, 'It created no live tasks.');
  });

  it('prints a stack the way a Python traceback reads', () => {
    const text = formatStack(
      task('t9', null, { name: 'poller', coro: 'poll', exception: { type: 'KeyError', message: "'x'" }, state: 'failed' }),
      [{ file: '/a.py', line: 3, function: 'poll' }, { file: '/b.py', line: 9, function: 'fetch' }],
      [{ file: '/c.py', line: 20, function: 'start' }, { file: '/c.py', line: 30, function: 'main' }],
    );
    assert.strictEqual(
      text,
      [
        'Task poller (poll) · failed',
        'Waiting at (most recent call last):',
        '  File "/a.py", line 3, in poll',
        '  File "/b.py", line 9, in fetch',
        'Created at (most recent call last):',
        '  File "/c.py", line 30, in main',
        '  File "/c.py", line 20, in start',
        "KeyError: 'x'",
        '',
      ].join('\n'),
    );
  });
});
