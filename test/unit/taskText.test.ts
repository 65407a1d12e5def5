import * as assert from 'assert';
import type { TaskRecord } from '../../src/protocol/messages';
import { coarseDuration, creationFrame, formatDuration, processMark, taskDescription, taskMark } from '../../src/views/taskText';

const base: TaskRecord = { id: 't1', name: 'worker-1', coro: 'Crawler.worker', state: 'pending', parent: null, loop: 'l1', created: 0, site: null };
const awaiting = [
  { file: '/app/crawler.py', line: 50, function: 'Crawler.worker' },
  { file: '/usr/lib/python3.11/asyncio/queues.py', line: 158, function: 'Queue.get' },
];

describe('task row text', () => {
  it('says where a pending task waits, on what, and for how long once it is long', () => {
    assert.strictEqual(taskDescription({ ...base, awaiting }, 0), 'Crawler.worker · awaiting Queue.get · queues.py:158');
    const queue = { ...base, awaiting, waitingOn: { kind: 'queue' as const, label: 'Queue.get' }, waitingSince: 1_000 };
    assert.strictEqual(taskDescription(queue, 4_000), 'Crawler.worker · awaiting Queue.get · queues.py:158');
    assert.strictEqual(taskDescription(queue, 18_000), 'Crawler.worker · awaiting Queue.get · queues.py:158 · 15 s');
    assert.strictEqual(taskDescription(queue, 1_000 + 3 * 60_000 + 5), 'Crawler.worker · awaiting Queue.get · queues.py:158 · 3 min');
  });

  it('says how a finished task ended', () => {
    assert.strictEqual(taskDescription({ ...base, state: 'failed', exception: { type: 'KeyError', message: "'x'" } }), 'Crawler.worker · failed: KeyError');
    assert.strictEqual(taskDescription({ ...base, state: 'cancelled' }), 'Crawler.worker · cancelled');
    assert.strictEqual(taskDescription({ ...base, state: 'running' }), 'Crawler.worker · running');
    assert.strictEqual(taskDescription(base), 'Crawler.worker');
  });

  it('takes where a task was made from its site, else from the library frame that made it', () => {
    const site = { file: '/app/crawler.py', line: 42, function: 'Crawler.run', user: true };
    const made = { file: '/usr/lib/python3.11/asyncio/streams.py', line: 258, function: 'StreamReaderProtocol.connection_made' };
    const dispatch = { file: '/usr/lib/python3.11/asyncio/events.py', line: 80, function: 'Handle._run' };
    assert.deepStrictEqual(creationFrame({ ...base, site, stack: [made, site] }), { frame: site, library: false });
    assert.deepStrictEqual(creationFrame({ ...base, stack: [made, dispatch] }), { frame: made, library: true });
    assert.strictEqual(creationFrame({ ...base, stack: [] }), undefined);
    assert.strictEqual(creationFrame(base), undefined);
  });

  it('formats durations for people', () => {
    assert.strictEqual(formatDuration(250), '250 ms');
    assert.strictEqual(formatDuration(1_234), '1.2 s');
    assert.strictEqual(formatDuration(185_000), '3 min 5 s');
    assert.strictEqual(formatDuration(7_500_000), '2 h 5 min');
    assert.strictEqual(coarseDuration(4_999), undefined);
    assert.strictEqual(coarseDuration(59_999), '55 s');
    assert.strictEqual(coarseDuration(2 * 3_600_000), '2 h');
  });

  it('marks a task a finding concerns with a badge and colour, its state icon kept; greys what exited', () => {
    assert.deepStrictEqual(taskMark(['fire-and-forget'], false), { badge: '1', tooltip: 'Fire-and-forget task', color: 'list.warningForeground' });
    const both = taskMark(['stuck', 'exception-never-retrieved'], true)!;
    assert.strictEqual(both.badge, '2');
    assert.strictEqual(both.color, 'list.errorForeground', 'an exception nobody retrieved is an error');
    assert.match(both.tooltip!, /Stuck/);
    assert.deepStrictEqual(taskMark([], true), { color: 'disabledForeground' });
    assert.strictEqual(taskMark([], false), undefined);
    assert.deepStrictEqual(processMark(true), { tooltip: 'exited', color: 'disabledForeground' });
    assert.strictEqual(processMark(false), undefined);
  });
});
