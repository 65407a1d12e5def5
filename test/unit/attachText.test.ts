import * as assert from 'assert';
import { attachNotice, attachText, CONTAINER_AGENT_DIR } from '../../src/run/attachText';

const input = {
  agentRoot: '/home/me/.vscode/extensions/taskscope-0.1.0/python',
  localAddress: 'unix:/tmp/taskscope-ab/ipc.sock',
  tcp: { address: 'tcp:127.0.0.1:40123', token: 'f00d' },
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
    assert.match(attachNotice('container'), /--network host.*127\.0\.0\.1/);
    assert.match(attachNotice('container'), new RegExp(`mounted read-only at ${CONTAINER_AGENT_DIR}`));
  });

  it('quotes a folder with spaces so that the shell passes it whole', () => {
    const spaced = { ...input, agentRoot: "/Users/me/Library/Application Support/ext's/python" };
    assert.ok(attachText(spaced, 'container').includes(`-v '/Users/me/Library/Application Support/ext'\\''s/python:${CONTAINER_AGENT_DIR}:ro'`));
    assert.ok(attachText(spaced, 'tcp').includes(`PYTHONPATH='/Users/me/Library/Application Support/ext'\\''s/python' `));
  });
});
