import * as assert from 'assert';
import * as path from 'path';
import { parseAgentMessage } from '../../src/protocol/messages';
import { compilePathMappings, mapMessagePaths } from '../../src/protocol/pathMappings';

describe('taskscope.attach.pathMappings', () => {
  const posix = path.posix;

  it('maps a path under a remote root to the same path under its local root, the longest root first', () => {
    const { mapper, problems } = compilePathMappings(
      [
        { remoteRoot: '/app', localRoot: '/home/me/project' },
        { remoteRoot: '/app/vendor/', localRoot: '/home/me/vendor' },
      ],
      undefined,
      posix,
    );
    assert.deepStrictEqual(problems, []);
    assert.ok(mapper);
    assert.strictEqual(mapper('/app/server.py'), '/home/me/project/server.py');
    assert.strictEqual(mapper('/app/pkg/jobs.py'), '/home/me/project/pkg/jobs.py');
    assert.strictEqual(mapper('/app/vendor/lib.py'), '/home/me/vendor/lib.py');
    assert.strictEqual(mapper('/app'), '/home/me/project');
    // Not under a root: left as it is (the standard library, another folder, a prefix that is no folder).
    assert.strictEqual(mapper('/usr/lib/python3.11/asyncio/tasks.py'), '/usr/lib/python3.11/asyncio/tasks.py');
    assert.strictEqual(mapper('/application/x.py'), '/application/x.py');
  });

  it('reads Windows paths from the agent and gives the local platform\'s', () => {
    const { mapper } = compilePathMappings([{ remoteRoot: 'C:\\srv\\app', localRoot: '/home/me/project' }], undefined, posix);
    assert.strictEqual(mapper!('C:\\srv\\app\\jobs\\run.py'), '/home/me/project/jobs/run.py');
    const win = compilePathMappings([{ remoteRoot: '/app', localRoot: 'C:\\work\\project' }], undefined, path.win32).mapper!;
    assert.strictEqual(win('/app/jobs/run.py'), 'C:\\work\\project\\jobs\\run.py');
  });

  it('puts the workspace folder for ${workspaceFolder}, and maps a root of / too', () => {
    const { mapper } = compilePathMappings([{ remoteRoot: '/', localRoot: '${workspaceFolder}/container' }], '/home/me/project', posix);
    assert.strictEqual(mapper!('/srv/app.py'), '/home/me/project/container/srv/app.py');
  });

  it('says what is wrong with a bad entry, ignores it, and keeps the others', () => {
    const { mapper, problems } = compilePathMappings(
      [
        { remoteRoot: '/app' },
        'nonsense',
        { remoteRoot: '/a', localRoot: 'relative/path' },
        { remoteRoot: '/b', localRoot: '${workspaceFolder}' },
        { remoteRoot: '/srv', localRoot: '/home/me/srv' },
      ],
      undefined,
      posix,
    );
    assert.deepStrictEqual(problems, [
      'taskscope.attach.pathMappings[0] needs a non-empty "remoteRoot" and "localRoot" (ignored)',
      'taskscope.attach.pathMappings[1] needs a non-empty "remoteRoot" and "localRoot" (ignored)',
      'taskscope.attach.pathMappings[2]: "localRoot" must be an absolute path, not "relative/path" (ignored)',
      'taskscope.attach.pathMappings[3]: ${workspaceFolder} with no folder open (ignored)',
    ]);
    assert.strictEqual(mapper!('/srv/x.py'), '/home/me/srv/x.py');
    assert.strictEqual(mapper!('/app/x.py'), '/app/x.py');
    assert.deepStrictEqual(compilePathMappings({ remoteRoot: '/app' }, undefined, posix).problems.length, 1);
    assert.strictEqual(compilePathMappings([], undefined, posix).mapper, undefined);
    assert.strictEqual(compilePathMappings(undefined, undefined, posix).mapper, undefined);
  });

  it('maps every frame of a message (site, stack, await chain, traceback, evidence) and nothing else', () => {
    const frame = (file: string, line: number) => ({ file, line, function: 'f', user: true });
    const line = JSON.stringify({
      type: 'delta',
      seq: 3,
      time: 1,
      upsert: [
        {
          id: 't1', name: 'Task-1', coro: 'main', state: 'failed', parent: null, loop: 'l1', created: 1,
          site: frame('/app/a.py', 3),
          stack: [frame('/usr/lib/python3.11/asyncio/tasks.py', 1), frame('/app/a.py', 3)],
          awaiting: [frame('/app/b.py', 9)],
          exception: { type: 'ValueError', message: 'in /app/a.py', traceback: [frame('/app/c.py', 4)] },
        },
      ],
      remove: [],
    });
    const parsed = parseAgentMessage(line);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    const { mapper } = compilePathMappings([{ remoteRoot: '/app', localRoot: '/w' }], undefined, posix);
    const mapped = mapMessagePaths(parsed.message, mapper!) as unknown as { upsert: Record<string, unknown>[] };
    const task = mapped.upsert[0] as {
      site: { file: string }; stack: { file: string }[]; awaiting: { file: string }[]; exception: { message: string; traceback: { file: string }[] };
    };
    assert.strictEqual(task.site.file, '/w/a.py');
    assert.deepStrictEqual(task.stack.map((f) => f.file), ['/usr/lib/python3.11/asyncio/tasks.py', '/w/a.py']);
    assert.deepStrictEqual(task.awaiting.map((f) => f.file), ['/w/b.py']);
    assert.deepStrictEqual(task.exception.traceback.map((f) => f.file), ['/w/c.py']);
    assert.strictEqual(task.exception.message, 'in /app/a.py', 'only frames\' files are paths to map');
    // The message as received is left alone.
    assert.strictEqual((parsed.message as unknown as { upsert: { site: { file: string } }[] }).upsert[0].site.file, '/app/a.py');

    const event = { type: 'event', seq: 4, time: 2, kind: 'loop-blocked', message: 'm', site: frame('/app/a.py', 1), evidence: { blocking: frame('/app/d.py', 7), frames: [frame('/app/e.py', 2)], seconds: 1.5 } };
    const mappedEvent = mapMessagePaths(event, mapper!);
    assert.strictEqual(mappedEvent.site.file, '/w/a.py');
    assert.strictEqual(mappedEvent.evidence.blocking.file, '/w/d.py');
    assert.strictEqual(mappedEvent.evidence.frames[0].file, '/w/e.py');
    assert.strictEqual(mappedEvent.evidence.seconds, 1.5);
    const untouched = { type: 'event', seq: 5, time: 3, kind: 'stuck', message: 'm', site: frame('/srv/x.py', 1) };
    assert.strictEqual(mapMessagePaths(untouched, mapper!), untouched, 'nothing to map: the same object');
  });
});
