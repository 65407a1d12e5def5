import * as assert from 'assert';
import { attachChoices, attachNotice, attachText, CONTAINER_AGENT_DIR, containerRoute } from '../../src/run/attachText';

const input = {
  agentRoot: '/home/me/.vscode/extensions/taskscope-0.1.0/python',
  localAddress: 'unix:/tmp/taskscope-ab/ipc.sock',
  tcp: { host: '127.0.0.1', port: 40123, token: 'f00d' },
  tuning: { stuckThreshold: 10, historySeconds: 60 },
};
const settings = 'TASKSCOPE_STUCK_AFTER=10 TASKSCOPE_HISTORY_SECONDS=60';

describe('attach texts', () => {
  it('on this machine: the command line, or the environment, with the settings', () => {
    assert.strictEqual(
      attachText(input, 'local-run'),
      `PYTHONPATH=${input.agentRoot} ${settings} python3 -m taskscope run --connect unix:/tmp/taskscope-ab/ipc.sock your_app.py`,
    );
    assert.strictEqual(
      attachText(input, 'local-env'),
      `export PYTHONPATH=${input.agentRoot}/taskscope/bootstrap\${PYTHONPATH:+:$PYTHONPATH} TASKSCOPE_CONNECT=unix:/tmp/taskscope-ab/ipc.sock ${settings}`,
    );
  });

  it('over TCP: always with the token', () => {
    assert.strictEqual(
      attachText(input, 'tcp'),
      `TASKSCOPE_TOKEN=f00d PYTHONPATH=${input.agentRoot} ${settings} python3 -m taskscope run --connect tcp:127.0.0.1:40123 your_app.py`,
    );
    assert.throws(() => attachText({ ...input, tcp: undefined }, 'tcp'), /TCP listener/);
  });

  it('in a container: host network, the agent mounted read-only and on PYTHONPATH, the token, the settings', () => {
    const text = attachText(input, 'container');
    assert.strictEqual(
      text,
      'docker run --rm -it --network host ' +
        `-v ${input.agentRoot}:${CONTAINER_AGENT_DIR}:ro ` +
        `-e PYTHONPATH=${CONTAINER_AGENT_DIR} -e TASKSCOPE_TOKEN=f00d -e TASKSCOPE_STUCK_AFTER=10 -e TASKSCOPE_HISTORY_SECONDS=60 ` +
        'your-image python3 -m taskscope run --connect tcp:127.0.0.1:40123 your_app.py',
    );
    const notice = attachNotice('container', input.tcp);
    assert.match(notice, /--network host.*127\.0\.0\.1/);
    assert.match(notice, new RegExp(`mounted read-only at ${CONTAINER_AGENT_DIR}`));
    assert.match(notice, /bridge network .*taskscope\.attach\.listenHost/, 'the notice must say what a bridge network needs');
  });

  it('in a container on a bridge network: to the listener\'s own address, no --network host, no --add-host', () => {
    const bridge = { ...input, tcp: { host: '172.17.0.1', port: 40123, token: 'f00d' } };
    assert.strictEqual(
      attachText(bridge, 'container'),
      'docker run --rm -it ' +
        `-v ${input.agentRoot}:${CONTAINER_AGENT_DIR}:ro ` +
        `-e PYTHONPATH=${CONTAINER_AGENT_DIR} -e TASKSCOPE_TOKEN=f00d -e TASKSCOPE_STUCK_AFTER=10 -e TASKSCOPE_HISTORY_SECONDS=60 ` +
        'your-image python3 -m taskscope run --connect tcp:172.17.0.1:40123 your_app.py',
    );
    const notice = attachNotice('container', bridge.tcp);
    assert.match(notice, /bridge network: it connects with the token to 172\.17\.0\.1, where this window listens/);
    assert.doesNotMatch(notice, /--network host/);
    // The same listener for a program on this machine: the same address.
    assert.match(attachText(bridge, 'tcp'), / --connect tcp:172\.17\.0\.1:40123 your_app\.py$/);
    assert.match(attachNotice('tcp', bridge.tcp), /over TCP to 172\.17\.0\.1:40123 /);
  });

  it('in a container on a bridge network with a wildcard listener: to host.docker.internal, mapped by --add-host', () => {
    for (const host of ['0.0.0.0', '::']) {
      const wildcard = { ...input, tcp: { host, port: 40123, token: 'f00d' } };
      assert.strictEqual(
        attachText(wildcard, 'container'),
        'docker run --rm -it --add-host=host.docker.internal:host-gateway ' +
          `-v ${input.agentRoot}:${CONTAINER_AGENT_DIR}:ro ` +
          `-e PYTHONPATH=${CONTAINER_AGENT_DIR} -e TASKSCOPE_TOKEN=f00d -e TASKSCOPE_STUCK_AFTER=10 -e TASKSCOPE_HISTORY_SECONDS=60 ` +
          'your-image python3 -m taskscope run --connect tcp:host.docker.internal:40123 your_app.py',
        host,
      );
      // A program on this machine reaches a wildcard listener at 127.0.0.1.
      assert.match(attachText(wildcard, 'tcp'), / --connect tcp:127\.0\.0\.1:40123 your_app\.py$/, host);
      const notice = attachNotice('container', wildcard.tcp);
      assert.match(notice, /host\.docker\.internal, which `--add-host=host\.docker\.internal:host-gateway` maps to this machine/);
      assert.match(notice, /every interface/);
    }
  });

  it('an IPv6 listener: the address in brackets, as the agent takes it', () => {
    assert.deepStrictEqual(containerRoute('fd00::2', 40123), { network: 'bridge', address: 'tcp:[fd00::2]:40123', addHostGateway: false });
    assert.deepStrictEqual(containerRoute('::1', 40123), { network: 'host', address: 'tcp:[::1]:40123' });
    assert.ok(attachText({ ...input, tcp: { host: 'fd00::2', port: 1, token: 'f00d' } }, 'container').endsWith(" --connect 'tcp:[fd00::2]:1' your_app.py"));
  });

  it('the quick pick says what applies to the listener\'s host', () => {
    const describe = (host: string) => Object.fromEntries(attachChoices(host).map((c) => [c.choice, `${c.label} | ${c.description}`]));
    const loopback = describe('127.0.0.1');
    assert.match(loopback.container, /sharing this machine's network \| docker run --network host.*bridge network needs taskscope\.attach\.listenHost/);
    assert.match(loopback.tcp, /127\.0\.0\.1 only/);
    const bridge = describe('172.17.0.1');
    assert.match(bridge.container, /on a bridge network \| docker run, connecting to 172\.17\.0\.1/);
    assert.doesNotMatch(bridge.container, /--network host/);
    assert.match(bridge.tcp, /listening on 172\.17\.0\.1/);
    assert.match(describe('0.0.0.0').container, /connecting to host\.docker\.internal/);
    assert.match(describe('0.0.0.0').tcp, /listening on every interface/);
    assert.deepStrictEqual(attachChoices('::1').map((c) => c.choice), ['local-run', 'local-env', 'tcp', 'container']);
  });

  it('for PowerShell (Windows): $env: variables, then python; the same docker line, quoted for PowerShell', () => {
    const win = {
      ...input,
      agentRoot: 'C:\\Users\\Me Too\\.vscode\\extensions\\taskscope-0.1.0\\python',
      localAddress: 'pipe:\\\\.\\pipe\\taskscope-ab',
    };
    const root = "'C:\\Users\\Me Too\\.vscode\\extensions\\taskscope-0.1.0\\python'";
    const tuning = '$env:TASKSCOPE_STUCK_AFTER=10; $env:TASKSCOPE_HISTORY_SECONDS=60';
    assert.strictEqual(
      attachText(win, 'local-run', 'powershell'),
      `$env:PYTHONPATH=${root}; ${tuning}; python -m taskscope run --connect pipe:\\\\.\\pipe\\taskscope-ab your_app.py`,
    );
    assert.strictEqual(
      attachText(win, 'local-env', 'powershell'),
      `$env:PYTHONPATH='C:\\Users\\Me Too\\.vscode\\extensions\\taskscope-0.1.0\\python/taskscope/bootstrap' + $(if ($env:PYTHONPATH) { ';' + $env:PYTHONPATH }); ` +
        `$env:TASKSCOPE_CONNECT=pipe:\\\\.\\pipe\\taskscope-ab; ${tuning}`,
    );
    assert.strictEqual(
      attachText(win, 'tcp', 'powershell'),
      `$env:TASKSCOPE_TOKEN=f00d; $env:PYTHONPATH=${root}; ${tuning}; python -m taskscope run --connect tcp:127.0.0.1:40123 your_app.py`,
    );
    assert.strictEqual(
      attachText(win, 'container', 'powershell'),
      `docker run --rm -it --network host -v '${win.agentRoot}:${CONTAINER_AGENT_DIR}:ro' ` +
        `-e PYTHONPATH=${CONTAINER_AGENT_DIR} -e TASKSCOPE_TOKEN=f00d -e TASKSCOPE_STUCK_AFTER=10 -e TASKSCOPE_HISTORY_SECONDS=60 ` +
        'your-image python3 -m taskscope run --connect tcp:127.0.0.1:40123 your_app.py',
    );
    // A quote in a value is doubled, as PowerShell reads it.
    assert.match(attachText({ ...win, agentRoot: "C:\\it's" }, 'local-run', 'powershell'), /^\$env:PYTHONPATH='C:\\it''s'; /);
  });

  it('quotes a folder with spaces so that the shell passes it whole', () => {
    const spaced = { ...input, agentRoot: "/Users/me/Library/Application Support/ext's/python" };
    assert.ok(attachText(spaced, 'container').includes(`-v '/Users/me/Library/Application Support/ext'\\''s/python:${CONTAINER_AGENT_DIR}:ro'`));
    assert.ok(attachText(spaced, 'tcp').includes(`PYTHONPATH='/Users/me/Library/Application Support/ext'\\''s/python' `));
  });
});
