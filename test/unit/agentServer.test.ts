import * as assert from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import { AgentServer, AgentServerOptions, Logger, MAX_PRE_HELLO_BYTES, ProtocolMismatch } from '../../src/ipc/agentServer';
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
      const tcp = /^tcp:\[?(.*?)\]?:(\d+)$/.exec(address);
      const options = tcp ? { host: tcp[1], port: Number(tcp[2]) } : { path: address.slice('unix:'.length) };
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

/** This machine's first IPv4 address other than loopback, if it has one. */
function externalIPv4(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
}

/** Skips a test, with the reason in its title (which the report prints). */
function skipBecause(context: Mocha.Context, reason: string): never {
  context.test!.title += ` (skipped: ${reason})`;
  context.skip();
}

/** Whether a plain TCP connection to host:port is accepted ('connected') or the error code. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** The kinds of handle this process holds open now, counted ('Timeout', 'TCPSocketWrap', ...). */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
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

  async function listen(how: Parameters<typeof AgentServer.listen>[1], options: Partial<AgentServerOptions> = {}): Promise<AgentServer> {
    server.dispose();
    server = await AgentServer.listen({ model, logger: log, extensionVersion: '9.9.9', ...options }, how);
    return server;
  }

  /** Says hello with the token and waits for the welcome. */
  async function welcomed(a: FakeAgent, pid = 1234): Promise<void> {
    a.hello({ token: server.token, pid });
    await a.next('welcome');
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
    const external = externalIPv4();
    if (!external) skipBecause(this, 'this machine has no non-loopback IPv4 address');
    server.dispose();
    server = await AgentServer.listen({ model, logger: log, extensionVersion: '9.9.9' }, { kind: 'tcp' });
    const port = Number(server.address.split(':').pop());
    assert.strictEqual(await tryConnect(external, port), 'ECONNREFUSED', `a connection to ${external}:${port}`);
  });

  it('on TCP, binds the host it is given: 127.0.0.1', async () => {
    await listen({ kind: 'tcp', host: '127.0.0.1' });
    assert.match(server.address, /^tcp:127\.0\.0\.1:\d+$/);
    assert.deepStrictEqual(server.tcpEndpoint, { host: '127.0.0.1', port: Number(server.address.split(':').pop()) });
    await welcomed(await agent());
    assert.strictEqual(model.processes().length, 1);
  });

  it('on TCP, binds the host it is given: this machine\'s non-loopback address, and only that one', async function () {
    const external = externalIPv4();
    if (!external) skipBecause(this, 'this machine has no non-loopback IPv4 address');
    await listen({ kind: 'tcp', host: external });
    const port = server.tcpEndpoint!.port;
    assert.strictEqual(server.address, `tcp:${external}:${port}`, 'a specific host is reported as itself');
    assert.deepStrictEqual(server.tcpEndpoint, { host: external, port });
    assert.strictEqual(await tryConnect('127.0.0.1', port), 'ECONNREFUSED', 'the listener must not be on loopback too');
    // A peer there needs the token like any other.
    const intruder = await agent();
    intruder.hello();
    await intruder.waitClosed();
    const friend = await agent();
    await welcomed(friend);
    assert.strictEqual(model.processes().length, 1);
    assert.ok(log.lines.some((l) => l.startsWith('info process 1234 (#2 from ') && l.includes(`${external}:`)), log.lines.join('\n'));
  });

  it('on TCP on a wildcard host, reports 127.0.0.1, where a program on this machine reaches it', async () => {
    await listen({ kind: 'tcp', host: '0.0.0.0' });
    const port = server.tcpEndpoint!.port;
    assert.deepStrictEqual(server.tcpEndpoint, { host: '0.0.0.0', port });
    assert.strictEqual(server.address, `tcp:127.0.0.1:${port}`);
    await welcomed(await agent());
    const external = externalIPv4();
    if (external) assert.strictEqual(await tryConnect(external, port), 'connected', 'a wildcard listener is on every interface');
  });

  it('on TCP, closes a silent peer once the handshake time-out passes, and logs it once, naming the peer', async () => {
    await listen({ kind: 'tcp' }, { handshakeTimeoutMs: 200 });
    const started = Date.now();
    const silent = await agent();
    const local = silent.socket.address() as net.AddressInfo;
    await silent.waitClosed();
    const waited = Date.now() - started;
    assert.ok(waited >= 180 && waited < 2000, `closed after ${waited} ms`);
    const lines = log.lines.filter((l) => l.includes("no valid 'hello' within 0.2 s"));
    assert.deepStrictEqual(lines, [`warn connection #1 from 127.0.0.1:${local.port}: closed: no valid 'hello' within 0.2 s`]);
  });

  it('on TCP, keeps a peer whose hello came in time past the handshake time-out', async () => {
    await listen({ kind: 'tcp' }, { handshakeTimeoutMs: 200 });
    const friend = await agent();
    await welcomed(friend);
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(!friend.closed);
    friend.send(snapshot);
    await until(() => model.taskCount(model.processes()[0].key) === 3, 'the snapshot after the time-out');
    assert.ok(!log.lines.some((l) => l.includes('no valid')), log.lines.join('\n'));
  });

  it('on a local socket, closes a silent peer after the handshake time-out too', async function () {
    if (process.platform === 'win32') skipBecause(this, 'the test speaks to a Unix socket');
    await listen({ kind: 'local' }, { handshakeTimeoutMs: 200 });
    const silent = await agent();
    await silent.waitClosed();
    assert.deepStrictEqual(log.lines.filter((l) => l.includes('no valid')), ["warn connection #1: closed: no valid 'hello' within 0.2 s"]);
  });

  it('on TCP, closes a peer that sends more than 1 MiB before hello', async () => {
    await listen({ kind: 'tcp' });
    const flood = await agent();
    flood.socket.write('{"type":"hello","argv":["' + 'x'.repeat(MAX_PRE_HELLO_BYTES)); // no end of line
    await flood.waitClosed();
    assert.ok(
      log.lines.some((l) => /^warn connection #1 from 127\.0\.0\.1:\d+: closed: sent more than 1048576 bytes without a valid 'hello'$/.test(l)),
      log.lines.join('\n'),
    );
    // A peer just under the cap is still read.
    const friend = await agent();
    friend.socket.write(' '.repeat(MAX_PRE_HELLO_BYTES - 1000));
    await welcomed(friend);
    assert.strictEqual(model.processes().length, 1);
  });

  it('on a local socket, keeps today\'s reading of a long stream before hello (no 1 MiB cap)', async () => {
    const a = await agent();
    a.socket.write(' '.repeat(2 * MAX_PRE_HELLO_BYTES));
    a.hello();
    await a.next('welcome');
    assert.ok(!a.closed);
  });

  it('clears its handshake timers when connections close and when it is disposed (no handle left)', async () => {
    await new Promise((r) => setImmediate(r)); // mocha's own time-out for this test is set by now
    const before = activeResources().get('Timeout') ?? 0;
    await listen({ kind: 'tcp' }, { handshakeTimeoutMs: 60_000 });
    const gone = await agent(); // closed by the peer before hello
    const greeted = await agent(); // its timer ends at hello
    await welcomed(greeted);
    const open = await agent(); // still waiting for hello when the server goes
    await until(() => (activeResources().get('Timeout') ?? 0) >= before + 2, 'the timers of the two waiting connections');
    gone.socket.destroy();
    await until(() => (activeResources().get('Timeout') ?? 0) === before + 1, 'the closed connection\'s timer to go');
    server.dispose();
    await open.waitClosed();
    await greeted.waitClosed();
    await until(() => (activeResources().get('Timeout') ?? 0) === before, 'every handshake timer to go');
  });
});
