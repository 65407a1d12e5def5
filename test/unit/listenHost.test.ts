import * as assert from 'assert';
import { checkListenHost, formatTcpAddress, isLoopbackHost, isWildcardHost, localTcpAddress } from '../../src/ipc/listenHost';

describe('taskscope.attach.listenHost', () => {
  it('takes an IP address, v4 or v6, or localhost', () => {
    for (const [value, host] of [
      ['127.0.0.1', '127.0.0.1'],
      ['172.17.0.1', '172.17.0.1'],
      ['0.0.0.0', '0.0.0.0'],
      ['::', '::'],
      ['::1', '::1'],
      ['fd00::2', 'fd00::2'],
      ['[fd00::2]', 'fd00::2'],
      ['localhost', 'localhost'],
      ['LocalHost', 'localhost'],
      [' 172.17.0.1 ', '172.17.0.1'],
    ]) {
      assert.deepStrictEqual(checkListenHost(value), { ok: true, host }, value);
    }
    assert.deepStrictEqual(checkListenHost(undefined), { ok: true, host: '127.0.0.1' });
  });

  it('refuses anything else with a message that names the setting and the value, and falls back to 127.0.0.1', () => {
    for (const value of ['docker0', 'host.docker.internal', '172.17.0', '172.17.0.1:4711', '256.0.0.1', 'http://172.17.0.1', '']) {
      const check = checkListenHost(value);
      assert.strictEqual(check.ok, false, value);
      assert.strictEqual(check.host, '127.0.0.1');
      if (!check.ok) {
        assert.match(check.error, /^TaskScope: the setting taskscope\.attach\.listenHost is /);
        assert.match(check.error, /IP address .* or localhost\. Listening on 127\.0\.0\.1 instead\.$/);
        if (value) assert.ok(check.error.includes(`"${value}", which is not an IP address`), check.error);
      }
    }
    const empty = checkListenHost('   ');
    assert.ok(!empty.ok && /is empty/.test(empty.error));
    const number = checkListenHost(8080);
    assert.ok(!number.ok && /is not a string \(8080\)/.test(number.error));
  });

  it('tells loopback and wildcard hosts from the others', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['172.17.0.1', '0.0.0.0', '::', 'fd00::2', '192.0.2.2']) assert.ok(!isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '0:0:0:0:0:0:0:0']) assert.ok(isWildcardHost(h), h);
    for (const h of ['127.0.0.1', '172.17.0.1', '::1', 'localhost']) assert.ok(!isWildcardHost(h), h);
  });

  it('writes addresses as the agent takes them; a wildcard is reached at 127.0.0.1 from this machine', () => {
    assert.strictEqual(formatTcpAddress('172.17.0.1', 4711), 'tcp:172.17.0.1:4711');
    assert.strictEqual(formatTcpAddress('fd00::2', 4711), 'tcp:[fd00::2]:4711');
    assert.strictEqual(localTcpAddress('0.0.0.0', 4711), 'tcp:127.0.0.1:4711');
    assert.strictEqual(localTcpAddress('::', 4711), 'tcp:127.0.0.1:4711');
    assert.strictEqual(localTcpAddress('172.17.0.1', 4711), 'tcp:172.17.0.1:4711');
    assert.strictEqual(localTcpAddress('::1', 4711), 'tcp:[::1]:4711');
  });
});
