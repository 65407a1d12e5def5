import * as assert from 'assert';
import { agentLaunch, commandLine, injectionEnv, quotePosix, tuningEnv } from '../../src/run/agentEnvironment';

describe('agent launch', () => {
  it('runs the file under python -m taskscope with the agent importable and the address set', () => {
    const launch = agentLaunch('/usr/bin/python3', '/w/app.py', '/ext/python', 'unix:/tmp/x/ipc.sock', undefined, ':');
    assert.deepStrictEqual(launch.args, ['-m', 'taskscope', 'run', '/w/app.py']);
    assert.deepStrictEqual(launch.env, { PYTHONPATH: '/ext/python', TASKSCOPE_CONNECT: 'unix:/tmp/x/ipc.sock' });
  });

  it('keeps the PYTHONPATH the program had, after the agent', () => {
    const launch = agentLaunch('python', 'a.py', '/ext/python', 'unix:/s', '/mine:/theirs', ':');
    assert.strictEqual(launch.env.PYTHONPATH, '/ext/python:/mine:/theirs');
  });

  it('quotes words for a POSIX shell so that they arrive unchanged', () => {
    assert.strictEqual(quotePosix('/usr/bin/python3'), '/usr/bin/python3');
    assert.strictEqual(quotePosix('/home/me/my app/it\'s.py'), `'/home/me/my app/it'\\''s.py'`);
    assert.strictEqual(quotePosix('$(rm -rf ~)'), `'$(rm -rf ~)'`);
    const launch = agentLaunch('/opt/py 3/bin/python', '/w/a b.py', '/e', 'unix:/s', undefined, ':');
    assert.strictEqual(commandLine(launch, 'linux'), `'/opt/py 3/bin/python' -m taskscope run '/w/a b.py'`);
    assert.strictEqual(commandLine(launch, 'win32'), `& '/opt/py 3/bin/python' -m taskscope run '/w/a b.py'`);
  });

  it('carries the settings to the agent, the history of finished tasks included', () => {
    const tuning = { stuckThreshold: 5, blockedThreshold: 0.5, sampleInterval: 0.2, historySeconds: 120 };
    const expected = {
      TASKSCOPE_STUCK_AFTER: '5',
      TASKSCOPE_BLOCKED_AFTER: '0.5',
      TASKSCOPE_INTERVAL: '0.2',
      TASKSCOPE_HISTORY_SECONDS: '120',
    };
    assert.deepStrictEqual(tuningEnv(tuning), expected);
    assert.deepStrictEqual(tuningEnv({ historySeconds: 0 }), { TASKSCOPE_HISTORY_SECONDS: '0' });
    assert.deepStrictEqual(tuningEnv({}), {});
    // Both ways of starting a program get them: the command line and the injected bootstrap.
    const launch = agentLaunch('python', 'a.py', '/e', 'unix:/s', undefined, ':', tuning);
    assert.deepStrictEqual(launch.env, { PYTHONPATH: '/e', TASKSCOPE_CONNECT: 'unix:/s', ...expected });
    const env = injectionEnv('/e', 'unix:/s', undefined, ':', tuning);
    assert.deepStrictEqual(env, { PYTHONPATH: '/e/taskscope/bootstrap', TASKSCOPE_CONNECT: 'unix:/s', ...expected });
  });
});
