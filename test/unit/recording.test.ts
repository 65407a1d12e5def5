import * as assert from 'assert';
import { loadRecording } from '../../src/ipc/recording';
import { FindingStore } from '../../src/model/findings';
import { TaskModel } from '../../src/model/taskModel';
import { compilePathMappings } from '../../src/protocol/pathMappings';
import { fixtureFiles } from './repo';

const valid = new Map(fixtureFiles('from-agent/valid'));
const silent = { info() {}, warn() {}, error() {} };

describe('loadRecording', () => {
  it('replays a recorded stream into the model as an exited process', () => {
    const text = [valid.get('hello.json'), valid.get('snapshot.json'), valid.get('delta.json'), valid.get('event.json'), valid.get('bye.json')].join('\n') + '\n';
    const model = new TaskModel();
    const findings = new FindingStore();
    const summary = loadRecording(text, 'run.taskscope', model, findings, silent);
    assert.strictEqual(summary.messages, 5);
    assert.strictEqual(summary.invalid, 0);
    assert.strictEqual(summary.truncated, false);
    const [p] = model.processes();
    assert.strictEqual(p.title, 'crawler.py (recording)');
    assert.strictEqual(p.status, 'exited');
    assert.strictEqual(p.exitCode, 0);
    assert.strictEqual(model.task(p.key, 't2')!.state, 'done');
    assert.strictEqual(model.task(p.key, 't3'), undefined);
    assert.strictEqual(findings.all().length, 1);
  });

  it('maps the paths of a recording made in a container to the workspace (taskscope.attach.pathMappings)', () => {
    const text = [valid.get('hello.json'), valid.get('snapshot.json'), valid.get('event.json')].join('\n');
    const model = new TaskModel();
    const findings = new FindingStore();
    const { mapper } = compilePathMappings([{ remoteRoot: '/home/me/app', localRoot: '/work/crawler' }], undefined);
    loadRecording(text, 'container.taskscope', model, findings, silent, mapper);
    const [p] = model.processes();
    const files = model.allTasks(p.key).flatMap((t) => [t.site, ...(t.stack ?? []), ...(t.awaiting ?? [])]).filter((f) => f).map((f) => f!.file);
    assert.ok(files.includes('/work/crawler/crawler.py'), files.join(', '));
    assert.ok(!files.some((f) => f.startsWith('/home/me/app')), files.join(', '));
    assert.ok(files.includes('/usr/lib/python3.11/asyncio/taskgroups.py'), 'a file under no remote root stays as it is');
    assert.deepStrictEqual(findings.all().map((f) => f.site?.file), ['/work/crawler/crawler.py']);
  });

  it('skips bad lines, says when the program stopped mid-stream, and loses nothing else', () => {
    const warnings: string[] = [];
    const text = ['garbage', valid.get('hello.json'), '{"type":"delta"', valid.get('snapshot.json')].join('\n');
    const model = new TaskModel();
    const summary = loadRecording(text, 'cut.taskscope', model, new FindingStore(), { ...silent, warn: (m: string) => warnings.push(m) });
    assert.strictEqual(summary.invalid, 2);
    assert.strictEqual(summary.truncated, true);
    assert.strictEqual(model.taskCount(summary.processKey!), 3);
    assert.match(warnings[0], /^cut\.taskscope:1: /);
  });

  it('opens nothing from a file that is not a recording', () => {
    const model = new TaskModel();
    const summary = loadRecording('hello world\n{"a":1}\n', 'x.txt', model, new FindingStore(), silent);
    assert.strictEqual(summary.processKey, undefined);
    assert.deepStrictEqual(model.processes(), []);
  });

  it('keeps the finished tasks of an old recording when the view prunes its history', () => {
    // Recorded a day ago: every finished time is older than any history setting.
    const dayAgo = Date.now() - 24 * 3600 * 1000;
    const task = (id: string, parent: string | null, state: string, finished?: number) => ({
      id, name: id, coro: 'work', state, parent, loop: 'l1', created: dayAgo, ...(finished === undefined ? {} : { finished }),
    });
    const lines = [
      { type: 'hello', protocol: 1, agent: '0.1.0', pid: 7, python: '3.12.1', argv: ['old.py'] },
      { type: 'snapshot', seq: 1, time: dayAgo, loops: [], tasks: [task('t1', null, 'pending'), task('t2', 't1', 'failed', dayAgo + 10)] },
      { type: 'delta', seq: 2, time: dayAgo + 20, upsert: [task('t3', 't1', 'cancelled', dayAgo + 20), task('t4', 't1', 'done', dayAgo + 30)], remove: [] },
      { type: 'bye', exitCode: 1 },
    ];
    const model = new TaskModel();
    const summary = loadRecording(lines.map((l) => JSON.stringify(l)).join('\n'), 'old.taskscope', model, new FindingStore(), silent);
    const before = model.allTasks(summary.processKey!).map((t) => t.id);
    assert.deepStrictEqual(before, ['t1', 't2', 't3', 't4']);
    // What the Tasks view does every 5 s, with the default history of 60 s.
    assert.strictEqual(model.pruneFinished(Date.now() - 60_000), 0);
    assert.deepStrictEqual(model.allTasks(summary.processKey!).map((t) => t.id), before);
  });
});
