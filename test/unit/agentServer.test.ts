import * as assert from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import { AgentServer, Logger, ProtocolMismatch } from '../../src/ipc/agentServer';
import { TaskModel } from '../../src/model/taskModel';
import { ExtensionMessage, parseExtensionMessage } from '../../src/protocol/messages';
import { fixtureFiles } from './repo';

/** A fake agent: a real socket client that speaks lines and collects what the extension sends. */
class FakeAgent {
  readonly received: ExtensionMessage[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buffer += d.toString('utf8');
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const parsed = parseExtensionMessage(line);
        assert.ok(parsed.ok, `the extension sent an invalid message: ${line}`);
        this.received.push(parsed.message);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(address: string): Promise<FakeAgent> {
    return new Promise((resolve, reject) => {
      const options = address.startsWith('unix:')
        ? { path: address.slice('unix:'.length) }
        : { host: '127.0.0.1', port: Number(address.split(':').pop()) };
      const socket = net.connect(options, () => resolve(new FakeAgent(socket)));
      socket.once('error', reject);
    });
  }

  send(value: unknown): void {
    this.socket.write((typeof value === 'string' ? value : JSON.stringify(value)) + '\n');
  }

  hello(extra: Record<string, unknown> = {}): void {
    this.send({ type: 'hello', protocol: 1, agent: '0.1.0', pid: 1234, python: '3.11.7', argv: ['app.py'], ...extra });
  }

  async next(type: string): Promise<ExtensionMessage> {
    await until(() => this.received.some((m) => m.type === type) || this.closed, `a '${type}' message`);
    const m = this.received.find((x) => x.type === type);
    assert.ok(m, `the connection closed before '${type}' arrived`);
    this.received.splice(this.received.indexOf(m), 1);
    return m;
  }

  async waitClosed(): Promise<void> {
    await until(() => this.closed, 'the connection to close');
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

class MemoryLog implements Logger {
  readonly lines: string[] = [];
  info(m: string) { this.lines.push(`info ${m}`); }
  warn(m: string) { this.lines.push(`warn ${m}`); }
  error(m: string) { this.lines.push(`error ${m}`); }
}

const snapshot = JSON.parse(fixtureFiles('from-agent/valid').find(([n]) => n === 'snapshot.json')![1]);

describe('AgentServer (real sockets)', () => {
  let model: TaskModel;
  let log: MemoryLog;
  let server: AgentServer;
  const agents: FakeAgent[] = [];

  async function agent(): Promise<FakeAgent> {
    const a = await FakeAgent.connect(server.address);
    agents.push(a);
    return a;
  }

  beforeEach(async () => {
    model = new TaskModel();
    log = new MemoryLog();
    server = await AgentServer.listen({ model, logger: log, extensionVersion: '9.9.9', commandTimeoutMs: 500 });
  });

  afterEach(() => {
    for (const a of agents.splice(0)) a.socket.destroy();
    server.dispose();
  });

  it('listens on a private Unix socket', () => {
    if (process.platform === 'win32') return;
    assert.match(server.address, /^unix:\//);
    const socketPath = server.address.slice('unix:'.length);
    assert.strictEqual(fs.statSync(socketPath).mode & 0o777, 0o600);
    assert.strictEqual(fs.statSync(require('path').dirname(socketPath)).mode & 0o777, 0o700);
  });

  it('welcomes an agent, then shows its snapshot and deltas', async () => {
    const a = await agent();
    a.hello();
    const welcome = await a.next('welcome');
    assert.deepStrictEqual(welcome, { type: 'welcome', protocol: 1, extension: '9.9.9' });
    a.send(snapshot);
    await until(() => model.processes().length === 1 && !!model.task(model.processes()[0].key, 't2'), 'the snapshot');
    const key = model.processes()[0].key;
    assert.strictEqual(model.process(key)!.pid, 1234);
    assert.deepStrictEqual(model.children(key, 't1').map((t) => t.id), ['t2', 't3']);
    a.send({ type: 'delta', seq: 2, time: 1, upsert: [], remove: ['t3'] });
    await until(() => !model.task(key, 't3'), 'the delta');
  });

  it('drops malformed lines, keeps the connection, and logs the problem once', async () => {
    const a = await agent();
    a.hello();
    await a.next('welcome');
    for (const [, line] of fixtureFiles('from-agent/invalid')) a.send(line);
    a.send('{"type":"snapshot"'); // truncated
    a.send(snapshot);
    await until(() => model.processes().length === 1 && !!model.task(model.processes()[0].key, 't1'), 'the snapshot after the garbage');
    assert.ok(!a.closed);
    assert.strictEqual(log.lines.filter((l) => l.includes('invalid message')).length, 1, log.lines.join('\n'));
  });

  it('ignores everything before hello on a local socket', async () => {
    const a = await agent();
    a.send(snapshot);
    a.hello();
    await a.next('welcome');
    await new Promise((r) => setTimeout(r, 50));
    assert.strictEqual(model.taskCount(model.processes()[0].key), 0);
  });

  it('rejects another protocol version, naming both versions', async () => {
    const mismatches: ProtocolMismatch[] = [];
    server.onProtocolMismatch((m) => mismatches.push(m));
    const a = await agent();
    a.hello({ protocol: 2, agent: '2.0.0' });
    const reject = await a.next('reject');
    assert.ok(reject.type === 'reject');
    assert.match(reject.reason, /speaks protocol 2 .*speaks protocol 1/);
    await a.waitClosed();
    assert.deepStrictEqual(mismatches, [{ pid: 1234, agentProtocol: 2, agentVersion: '2.0.0', extensionProtocol: 1 }]);
    assert.strictEqual(model.processes().length, 0);
  });

  it('carries a command to the agent and its result back', async () => {
    const a = await agent();
    a.hello();
    await a.next('welcome');
    const key = model.processes()[0].key;
    const pending = server.command(key, { command: 'cancel', task: 't9' });
    const command = await a.next('command');
    assert.ok(command.type === 'command');
    assert.deepStrictEqual({ command: command.command, task: command.task }, { command: 'cancel', task: 't9' });
    a.send({ type: 'result', id: command.id, ok: true, value: { cancelled: ['t9'] } });
    const result = await pending;
    assert.deepStrictEqual(result.value, { cancelled: ['t9'] });
  });

  it('fails a command the agent does not answer, or that outlives the connection', async () => {
    const a = await agent();
    a.hello();
    await a.next('welcome');
    const key = model.processes()[0].key;
    await assert.rejects(server.command(key, { command: 'cancel', task: 't1' }), /did not answer/);
    const pending = server.command(key, { command: 'cancel', task: 't1' });
    a.socket.destroy();
    await assert.rejects(pending, /disconnected/);
    await assert.rejects(server.command(key, { command: 'cancel', task: 't1' }), /no longer connected/);
  });

  it('marks a process exited with the code from bye, or unknown without it', async () => {
    const a = await agent();
    a.hello();
    await a.next('welcome');
    const b = await agent();
    b.hello({ pid: 99 });
    await b.next('welcome');
    a.send({ type: 'bye', exitCode: 3 });
    a.socket.end();
    b.socket.destroy();
    await until(() => model.processes().every((p) => p.status === 'exited'), 'both processes to exit');
    const [pa, pb] = model.processes();
    assert.strictEqual(pa.exitCode, 3);
    assert.strictEqual(pb.exitCode, null);
  });

  it('keeps one bad process from disturbing another', async () => {
    const good = await agent();
    good.hello();
    await good.next('welcome');
    const bad = await agent();
    bad.hello({ pid: 666 });
    await bad.next('welcome');
    bad.send('x'.repeat(100_000) + '{not json');
    bad.send(Buffer.from([0xff, 0xfe, 0x00, 0x0a]).toString('latin1'));
    bad.socket.destroy();
    good.send(snapshot);
    const key = model.processes()[0].key;
    await until(() => model.taskCount(key) === 3, 'the good snapshot');
    assert.strictEqual(model.process(key)!.status, 'connected');
  });

  it('on TCP, closes a connection without the right token', async () => {
    server.dispose();
    server = await AgentServer.listen({ model, logger: log, extensionVersion: '9.9.9' }, { kind: 'tcp' });
    assert.match(server.address, /^tcp:127\.0\.0\.1:\d+$/);
    assert.ok(server.token && server.token.length >= 32);
    const intruder = await agent();
    intruder.hello({ token: 'wrong' });
    await intruder.waitClosed();
    assert.strictEqual(model.processes().length, 0);
    const silent = await agent();
    silent.send(snapshot); // anything but hello first
    await silent.waitClosed();
    const friend = await agent();
    friend.hello({ token: server.token });
    await friend.next('welcome');
    assert.strictEqual(model.processes().length, 1);
  });

  it('on TCP, listens on the loopback interface only', async function () {
    // Reached through another address of this machine, the listener is not there.
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!external) this.skip();
    server.dispose();
    server = await AgentServer.listen({ model, logger: log, extensionVersion: '9.9.9' }, { kind: 'tcp' });
    const port = Number(server.address.split(':').pop());
    const outcome = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: external, port }, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.strictEqual(outcome, 'ECONNREFUSED', `a connection to ${external}:${port}`);
  });
});
