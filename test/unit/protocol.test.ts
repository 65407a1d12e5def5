import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  encodeMessage,
  parseAgentMessage,
  parseExtensionMessage,
  PROTOCOL_VERSION,
} from '../../src/protocol/messages';
import { fixtureFiles, REPO_ROOT } from './repo';

describe('protocol messages', () => {
  describe('from the agent: every valid example is accepted', () => {
    for (const [name, text] of fixtureFiles('from-agent/valid')) {
      it(name, () => {
        const parsed = parseAgentMessage(text);
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
        assert.strictEqual(parsed.message.type, JSON.parse(text).type);
      });
    }
  });

  describe('from the agent: every invalid example is refused with a reason', () => {
    for (const [name, text] of fixtureFiles('from-agent/invalid')) {
      it(name, () => {
        const parsed = parseAgentMessage(text);
        assert.ok(!parsed.ok, `accepted ${text}`);
        assert.ok(parsed.error.length > 5);
      });
    }
  });

  describe('from the extension: the valid examples survive encode and parse unchanged', () => {
    for (const [name, text] of fixtureFiles('from-extension/valid')) {
      it(name, () => {
        const parsed = parseExtensionMessage(text);
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
        const again = parseExtensionMessage(encodeMessage(parsed.message).trimEnd());
        assert.ok(again.ok);
        assert.deepStrictEqual(stripUndefined(again.message), JSON.parse(text));
      });
    }
  });

  describe('from the extension: the invalid examples are refused', () => {
    for (const [name, text] of fixtureFiles('from-extension/invalid')) {
      it(name, () => assert.ok(!parseExtensionMessage(text).ok, `accepted ${text}`));
    }
  });

  it('keeps task fields and ignores unknown ones', () => {
    const [, text] = fixtureFiles('from-agent/valid').find(([n]) => n === 'snapshot.json')!;
    const parsed = parseAgentMessage(text);
    assert.ok(parsed.ok && parsed.message.type === 'snapshot');
    const [main, fetch, failed] = parsed.message.tasks;
    assert.strictEqual(main.parent, null);
    assert.strictEqual(fetch.parent, 't1');
    assert.deepStrictEqual(fetch.site, { file: '/home/me/app/crawler.py', line: 64, function: 'Crawler.run', user: true });
    assert.strictEqual(failed.site, null);
    assert.deepStrictEqual(stripUndefined(failed.exception!), { type: 'TimeoutError', message: '' });
    const hello = parseAgentMessage(fixtureFiles('from-agent/valid').find(([n]) => n === 'hello-tcp.json')![1]);
    assert.ok(hello.ok && hello.message.type === 'hello');
    assert.ok(!('futureField' in hello.message));
  });

  it('names the field that is wrong', () => {
    const parsed = parseAgentMessage('{"type":"delta","seq":2,"time":1,"upsert":[{"id":"t1","name":"x","coro":"c","state":"pending","parent":null,"loop":"l1","created":1,"site":{"file":"/a.py","line":-3,"function":"f"}}],"remove":[]}');
    assert.ok(!parsed.ok);
    assert.match(parsed.error, /delta\.upsert\[0\]\.site\.line/);
  });

  it('never throws, whatever the line', () => {
    for (const line of ['', 'null', '1', '"x"', '{', '{"type":null}', '{"type":"hello","argv":"x"}', '\u0000', '[{}]']) {
      assert.doesNotThrow(() => parseAgentMessage(line));
      assert.doesNotThrow(() => parseExtensionMessage(line));
    }
  });

  it('speaks the version the protocol document describes', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'protocol.md'), 'utf8');
    assert.match(doc, new RegExp(`^# TaskScope wire protocol, version ${PROTOCOL_VERSION}$`, 'm'));
  });
});

function stripUndefined(value: object): object {
  return JSON.parse(JSON.stringify(value));
}
