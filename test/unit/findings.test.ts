import * as assert from 'assert';
import { FindingsChange, FindingStore, placeOf, relatedPlaces, shownPlace, withTaskEvidence } from '../../src/model/findings';
import type { EventMessage, TaskRecord } from '../../src/protocol/messages';

const site = { file: '/app/crawler.py', line: 52, function: 'start', user: true };

function event(extra: Partial<EventMessage> = {}): EventMessage {
  return { type: 'event', seq: 1, time: 1000, kind: 'fire-and-forget', task: 't9', site, message: "Task 'poller' dropped", ...extra };
}

describe('FindingStore', () => {
  let store: FindingStore;
  let changes: FindingsChange[];

  beforeEach(() => {
    store = new FindingStore();
    changes = [];
    store.onDidChange((c) => changes.push(c));
  });

  it('counts the same kind at the same place instead of repeating it', () => {
    store.add('p1', event());
    store.add('p1', event({ task: 't10', time: 2000, message: "Task 'poller-2' dropped" }));
    store.add('p2', event({ task: 't3', time: 3000 }));
    assert.strictEqual(store.all().length, 1);
    const [f] = store.all();
    assert.strictEqual(f.count, 3);
    assert.strictEqual(f.first, 1000);
    assert.strictEqual(f.last, 3000);
    assert.strictEqual(f.processKey, 'p2');
    assert.deepStrictEqual(changes.map((c) => [c.added.length, c.updated.length]), [[1, 0], [0, 1], [0, 1]]);
  });

  it('keeps kinds and places apart, and orders kinds as people read them', () => {
    store.add('p1', event({ kind: 'loop-blocked' }));
    store.add('p1', event({ kind: 'a-new-kind' }));
    store.add('p1', event());
    store.add('p1', event({ site: { ...site, line: 53 } }));
    assert.strictEqual(store.all().length, 4);
    assert.deepStrictEqual(store.kinds(), ['fire-and-forget', 'loop-blocked', 'a-new-kind']);
    assert.strictEqual(store.ofKind('fire-and-forget').length, 2);
  });

  it('flags the tasks findings concern, per process', () => {
    store.add('p1', event());
    assert.ok(store.isFlagged('p1', 't9'));
    assert.ok(!store.isFlagged('p2', 't9'));
    assert.ok(!store.isFlagged('p1', 't1'));
    store.add('p1', event({ kind: 'stuck', site: { ...site, line: 60 } }));
    store.add('p1', event({ kind: 'stuck', site: { ...site, line: 61 } }));
    assert.deepStrictEqual(store.kindsOf('p1', 't9'), ['fire-and-forget', 'stuck']);
    assert.deepStrictEqual(store.kindsOf('p1', 't1'), []);
  });

  it('counts findings at one line by kind, for the linter', () => {
    store.add('p1', event({ kind: 'destroyed-pending' }));
    store.add('p1', event({ kind: 'destroyed-pending' }));
    store.add('p1', event());
    const counts = store.countAt('/app/crawler.py', 52, ['destroyed-pending']);
    assert.deepStrictEqual([...counts], [['destroyed-pending', 2]]);
  });

  it('keeps findings until cleared, per process or all', () => {
    store.add('p1', event());
    store.add('p2', event({ kind: 'stuck' }));
    store.clear('p1');
    assert.deepStrictEqual(store.all().map((f) => f.kind), ['stuck']);
    assert.ok(!store.isFlagged('p1', 't9'));
    store.clear();
    assert.deepStrictEqual(store.all(), []);
    assert.ok(changes[changes.length - 1].cleared);
  });

  it('points to where a task waits, where its exception was raised, and where the loop blocked', () => {
    const waits = { file: '/app/w.py', line: 3, function: 'w' };
    const unmarked = { file: site.file, line: site.line, function: site.function };
    assert.deepStrictEqual(relatedPlaces(event({ kind: 'destroyed-pending', evidence: { awaiting: [unmarked, waits] } })), [{ frame: waits, note: 'where it waits' }]);
    // The program's own line (`user`), not asyncio's, when the frames say which is which.
    const own = { ...waits, user: true };
    const asyncio = { file: '/usr/lib/python3.11/asyncio/locks.py', line: 200, function: 'Event.wait', user: false };
    assert.deepStrictEqual(relatedPlaces(event({ kind: 'stuck', evidence: { awaiting: [site, own, asyncio] } })), [{ frame: waits, note: 'where it waits' }]);
    const raised = { file: '/app/r.py', line: 9, function: 'r' };
    assert.deepStrictEqual(
      relatedPlaces(event({ kind: 'exception-never-retrieved', evidence: { type: 'KeyError', traceback: [site, raised] } })),
      [{ frame: raised, note: 'where KeyError was raised' }],
    );
    const inner = { file: '/usr/lib/python3.11/json/decoder.py', line: 353, function: 'raw_decode' };
    assert.deepStrictEqual(relatedPlaces(event({ kind: 'loop-blocked', evidence: { blocking: site, stack: [site, inner] } })), [
      { frame: inner, note: 'innermost frame while blocked' },
    ]);
    const caller = { file: '/app/app.py', line: 20, function: 'handler', user: true };
    const helper = { file: '/app/app.py', line: 8, function: 'parse', user: true };
    assert.deepStrictEqual(relatedPlaces(event({ kind: 'loop-blocked', evidence: { blocking: helper, stack: [caller, helper] } })), [
      { frame: { file: '/app/app.py', line: 20, function: 'handler' }, note: 'called from' },
    ]);
    assert.deepStrictEqual(relatedPlaces(event({ evidence: { awaiting: 'garbage', traceback: [1, null] } })), []);
    // With where the running task was created, the diagnostic goes there: the blocking line comes first.
    const created = { file: '/app/main.py', line: 30, function: 'main' };
    assert.deepStrictEqual(relatedPlaces(event({ kind: 'loop-blocked', evidence: { blocking: helper, stack: [caller, helper], created } })), [
      { frame: { file: '/app/app.py', line: 8, function: 'parse' }, note: 'where the loop was blocked' },
      { frame: { file: '/app/app.py', line: 20, function: 'handler' }, note: 'called from' },
    ]);
  });

  it('puts a blocked loop\'s diagnostic where the running task was created, else at the blocking line', () => {
    const blocking = { file: '/app/app.py', line: 8, function: 'parse' };
    const created = { file: '/app/main.py', line: 30, function: 'main' };
    assert.deepStrictEqual(placeOf({ kind: 'loop-blocked', site: blocking, evidence: { blocking, created } }), created);
    assert.deepStrictEqual(placeOf({ kind: 'loop-blocked', site: blocking, evidence: { blocking } }), blocking, 'a plain callback: no task');
    assert.deepStrictEqual(placeOf({ kind: 'stuck', site: created, evidence: { created: blocking } }), created, 'other kinds: their site');
    // A recording of an agent that did not send it: taken from the running task's record.
    const record = { id: 't2', name: 'w', coro: 'w', state: 'running' as const, parent: null, loop: 'l1', created: 1, site: { ...created, user: true } };
    const blocked = event({ kind: 'loop-blocked', task: 't2', site: blocking, evidence: { blocking } });
    assert.deepStrictEqual(withTaskEvidence(blocked, record).evidence?.created, record.site);
    assert.strictEqual(withTaskEvidence(blocked, undefined), blocked);
  });

  it('puts the finding of a task no line of the program made at the program\'s line where it waits, or raised, and counts them there', () => {
    const handler = { file: '/app/server.py', line: 8, function: 'handle', user: true };
    const read = { file: '/usr/lib/python3.11/asyncio/streams.py', line: 700, function: 'StreamReader.read' };
    const stuck = (task: string) => event({ kind: 'stuck', task, site: undefined, evidence: { waitedMs: 500, awaiting: [handler, read] } });
    assert.deepStrictEqual(placeOf({ kind: 'stuck', evidence: { awaiting: [handler, read] } }), { file: '/app/server.py', line: 8, function: 'handle' });
    const raised = { file: '/app/server.py', line: 12, function: 'handle', user: true };
    assert.deepStrictEqual(placeOf({ kind: 'exception-never-retrieved', evidence: { traceback: [raised, read] } }), { file: '/app/server.py', line: 12, function: 'handle' });
    assert.strictEqual(placeOf({ kind: 'stuck', evidence: { awaiting: [read] } }), undefined, 'never a library\'s file');
    assert.strictEqual(placeOf({ kind: 'orphan', evidence: { parent: 't1' } }), undefined);
    // The Findings view shows and opens the same line; a blocked loop's row, its blocking line.
    assert.deepStrictEqual(shownPlace({ kind: 'stuck', evidence: { awaiting: [handler, read] } }), { file: '/app/server.py', line: 8, function: 'handle' });
    const blocking = { file: '/app/app.py', line: 8, function: 'parse' };
    assert.deepStrictEqual(shownPlace({ kind: 'loop-blocked', site: blocking, evidence: { created: handler } }), blocking);
    store.add('p1', stuck('t10'));
    store.add('p1', stuck('t11'));
    const [f] = store.all();
    assert.strictEqual(f.count, 2, 'the connections stuck at one line are one finding');
    assert.ok(store.isFlagged('p1', 't10') && store.isFlagged('p1', 't11'));
    store.add('p1', event({ kind: 'orphan', task: 't12', site: undefined, evidence: {} }));
    store.add('p1', event({ kind: 'orphan', task: 't13', site: undefined, evidence: {} }));
    assert.strictEqual(store.ofKind('orphan').length, 2, 'without a place, one finding per task');
  });

  it('takes where a pending task waits from its record when the agent did not send it', () => {
    const own = { file: '/app/w.py', line: 3, function: 'w', user: true };
    const asyncio = { file: '/usr/lib/python3.11/asyncio/tasks.py', line: 600, function: 'sleep', user: false };
    const task: TaskRecord = { id: 't9', name: 'poller', coro: 'poll', state: 'pending', parent: 't1', loop: 'l1', created: 1, site: null, awaiting: [own, asyncio] };
    const orphan = event({ kind: 'orphan', evidence: { parent: 't1', parentState: 'done' } });
    const enriched = withTaskEvidence(orphan, task);
    assert.deepStrictEqual(enriched.evidence, { parent: 't1', parentState: 'done', awaiting: [own, asyncio] });
    assert.deepStrictEqual(relatedPlaces(enriched), [{ frame: { file: '/app/w.py', line: 3, function: 'w' }, note: 'where it waits' }]);
    // Not for a task that is not waiting, nor over what the agent sent.
    assert.strictEqual(withTaskEvidence(orphan, { ...task, state: 'running' }), orphan);
    assert.strictEqual(withTaskEvidence(orphan, undefined), orphan);
    const sent = event({ kind: 'stuck', evidence: { awaiting: [asyncio] } });
    assert.strictEqual(withTaskEvidence(sent, task), sent);
  });
});
