import * as assert from 'assert';
import { loadRecording } from '../../src/ipc/recording';
import { FindingStore } from '../../src/model/findings';
import { TaskModel } from '../../src/model/taskModel';
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
});
