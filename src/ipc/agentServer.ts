/**
 * The local server that traced programs connect to (docs/protocol.md, "Transport").
 *
 * It listens on a Unix domain socket in a private directory (a named pipe on Windows), or on
 * TCP with a token (127.0.0.1 unless told another host, src/ipc/listenHost.ts); it runs the
 * handshake, validates every line, feeds the task model, and carries commands to the agents.
 * No `vscode` import: it is tested in plain Node with real sockets. One connection's bad input
 * never touches another connection.
 */

import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Emitter, Event } from '../model/emitter';
import { DEFAULT_LISTEN_HOST, localTcpAddress } from './listenHost';
import type { TaskModel } from '../model/taskModel';
import { LineDecoder } from '../protocol/lineDecoder';
import { mapMessagePaths, PathMapper } from '../protocol/pathMappings';
import {
  AgentMessage,
  CommandMessage,
  encodeMessage,
  EventMessage,
  ExtensionMessage,
  HelloMessage,
  parseAgentMessage,
  PROTOCOL_VERSION,
  ResultMessage,
} from '../protocol/messages';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ProtocolMismatch {
  readonly pid: number;
  readonly agentProtocol: number;
  readonly agentVersion: string;
  readonly extensionProtocol: number;
}

export interface AgentServerOptions {
  readonly model: TaskModel;
  readonly logger: Logger;
  readonly extensionVersion: string;
  /** How long a command may wait for its result. */
  readonly commandTimeoutMs?: number;
  /** How long a new connection may take to send a valid `hello` before it is closed. */
  readonly handshakeTimeoutMs?: number;
  /** The path mappings now (`taskscope.attach.pathMappings`), applied to every message as it arrives. */
  readonly pathMapper?: () => PathMapper | undefined;
}

/**
 * Where to listen: the private local socket, or TCP on `host` (an IP address or `localhost`,
 * 127.0.0.1 by default; see listenHost.ts) and `port` (any free one by default).
 */
export type ListenOptions =
  | { readonly kind: 'local' }
  | { readonly kind: 'tcp'; readonly host?: string; readonly port?: number };

/** A command as the caller gives it: the server adds `type` and `id`. */
export type CommandRequest = Omit<CommandMessage, 'type' | 'id'>;

export class CommandError extends Error {}

const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * What a TCP peer may send before its `hello` is accepted. A real `hello` is a few hundred
 * bytes (its longest field is the program's command line); a peer that has not shown the
 * token must not make the window hold up to a whole line's 8 MiB.
 */
export const MAX_PRE_HELLO_BYTES = 1024 * 1024;

/** One agent's connection: handshake, then the live stream. */
class AgentConnection {
  private hello: HelloMessage | undefined;
  private processKey: string | undefined;
  private exitCode: number | null = null;
  private nextCommandId = 1;
  private readonly pending = new Map<number, { resolve(r: ResultMessage): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly reported = new Set<string>();
  private readonly decoder: LineDecoder;
  /** Bytes received before `hello` was accepted (counted on TCP only). */
  private preHelloBytes = 0;
  /**
   * Closes the connection if no valid `hello` arrives in time; cleared at `hello` and on close.
   * Local connections get it too: it costs one timer per connection, and it is harmless to a
   * real agent, which sends `hello` as its first act after connecting (and, should it be held
   * up, gives up on the handshake itself and reconnects); it frees a connection that a stray
   * local client opened and left silent.
   */
  private handshakeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly server: AgentServer,
    private readonly label: string,
    private readonly token: string | undefined,
    handshakeTimeoutMs: number,
  ) {
    this.decoder = new LineDecoder(
      (line) => this.onLine(line),
      (bytes) => this.logOnce('oversized', `${this.describe()}: dropped a line of ${bytes} bytes (over the limit)`),
    );
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      this.server.logger.warn(`${this.describe()}: closed: no valid 'hello' within ${handshakeTimeoutMs / 1000} s`);
      this.close();
    }, handshakeTimeoutMs);
    socket.on('data', (data) => {
      if (!this.hello && this.token !== undefined) {
        this.preHelloBytes += data.length;
        if (this.preHelloBytes > MAX_PRE_HELLO_BYTES) {
          this.server.logger.warn(
            `${this.describe()}: closed: sent more than ${MAX_PRE_HELLO_BYTES} bytes without a valid 'hello'`,
          );
          this.close();
          return;
        }
      }
      try {
        this.decoder.push(data);
      } catch (e) {
        // A bug of ours must not take the window down; the connection goes, the rest stays.
        this.server.logger.error(`${this.describe()}: ${(e as Error).stack ?? e}`);
        socket.destroy();
      }
    });
    socket.on('error', (e) => this.server.logger.warn(`${this.describe()}: ${e.message}`));
    socket.on('close', () => this.onClose());
  }

  get key(): string | undefined {
    return this.processKey;
  }

  send(message: ExtensionMessage): void {
    if (!this.socket.destroyed) this.socket.write(encodeMessage(message));
  }

  command(request: CommandRequest, timeoutMs: number): Promise<ResultMessage> {
    if (this.socket.destroyed || !this.processKey) {
      return Promise.reject(new CommandError('the process is no longer connected'));
    }
    const id = this.nextCommandId++;
    return new Promise<ResultMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CommandError(`the agent did not answer '${request.command}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ type: 'command', id, ...request });
    });
  }

  close(): void {
    this.clearHandshakeTimer();
    this.socket.destroy();
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private describe(): string {
    return this.hello ? `process ${this.hello.pid} (${this.label})` : `connection ${this.label}`;
  }

  /** Logs a kind of problem once per connection, so a misbehaving peer cannot flood the log. */
  private logOnce(kind: string, message: string): void {
    if (this.reported.has(kind)) return;
    this.reported.add(kind);
    this.server.logger.warn(message + ' (further problems of this kind on this connection are not logged)');
  }

  private onLine(line: string): void {
    const parsed = parseAgentMessage(line);
    if (!parsed.ok) {
      this.logOnce('invalid', `${this.describe()}: dropped an invalid message: ${parsed.error}`);
      if (!this.hello && this.token !== undefined) this.close();
      return;
    }
    const mapper = this.server.pathMapper?.();
    this.onMessage(mapper ? mapMessagePaths(parsed.message, mapper) : parsed.message);
  }

  private onMessage(message: AgentMessage): void {
    if (!this.hello) {
      if (message.type !== 'hello') {
        this.logOnce('before-hello', `${this.describe()}: dropped '${message.type}' before 'hello'`);
        if (this.token !== undefined) this.close();
        return;
      }
      this.onHello(message);
      return;
    }
    const key = this.processKey;
    if (!key) return; // rejected: nothing more is read from it
    switch (message.type) {
      case 'hello':
        this.logOnce('hello-again', `${this.describe()}: dropped a second 'hello'`);
        return;
      case 'snapshot':
        this.server.model.applySnapshot(key, message);
        if (message.dropped) this.logOnce('dropped', `${this.describe()}: the agent dropped ${message.dropped} messages under load and resent its state`);
        return;
      case 'delta':
        this.server.model.applyDelta(key, message);
        return;
      case 'event':
        this.server.fireEvent(key, message);
        return;
      case 'result': {
        const waiter = this.pending.get(message.id);
        if (!waiter) {
          this.logOnce('result', `${this.describe()}: dropped a result for unknown command ${message.id}`);
          return;
        }
        this.pending.delete(message.id);
        clearTimeout(waiter.timer);
        waiter.resolve(message);
        return;
      }
      case 'bye':
        this.exitCode = message.exitCode;
        return;
    }
  }

  private onHello(hello: HelloMessage): void {
    if (this.token !== undefined && !timingSafeEqual(hello.token ?? '', this.token)) {
      this.server.logger.warn(`${this.describe()}: closed a TCP connection that did not present the right token`);
      this.close();
      return;
    }
    this.clearHandshakeTimer();
    this.hello = hello;
    if (hello.protocol !== PROTOCOL_VERSION) {
      const reason =
        `protocol mismatch: the agent in process ${hello.pid} speaks protocol ${hello.protocol} ` +
        `(agent ${hello.agent}), this extension speaks protocol ${PROTOCOL_VERSION} (extension ${this.server.extensionVersion})`;
      this.send({ type: 'reject', protocol: PROTOCOL_VERSION, extension: this.server.extensionVersion, reason });
      this.server.logger.warn(`${this.describe()}: ${reason}`);
      this.server.fireMismatch({
        pid: hello.pid,
        agentProtocol: hello.protocol,
        agentVersion: hello.agent,
        extensionProtocol: PROTOCOL_VERSION,
      });
      this.socket.end();
      return;
    }
    this.processKey = this.server.model.addProcess(hello).key;
    this.server.register(this);
    this.send({ type: 'welcome', protocol: PROTOCOL_VERSION, extension: this.server.extensionVersion });
    this.server.logger.info(`${this.describe()} connected: ${hello.argv.join(' ')} (Python ${hello.python}, agent ${hello.agent})`);
  }

  private onClose(): void {
    this.clearHandshakeTimer();
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new CommandError('the process disconnected before answering'));
    }
    this.pending.clear();
    if (this.processKey) {
      this.server.model.markExited(this.processKey, this.exitCode);
      this.server.unregister(this);
      this.server.logger.info(`${this.describe()} exited` + (this.exitCode === null ? '' : ` with code ${this.exitCode}`));
    }
  }
}

function timingSafeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export class AgentServer {
  readonly model: TaskModel;
  readonly logger: Logger;
  readonly extensionVersion: string;
  private readonly commandTimeoutMs: number;
  /** @internal for AgentConnection */
  readonly pathMapper: (() => PathMapper | undefined) | undefined;
  private readonly handshakeTimeoutMs: number;
  private readonly connections = new Map<string, AgentConnection>();
  private readonly sockets = new Set<AgentConnection>();
  private readonly eventEmitter = new Emitter<{ processKey: string; event: EventMessage }>();
  private readonly mismatchEmitter = new Emitter<ProtocolMismatch>();
  private server: net.Server | undefined;
  private privateDir: string | undefined;
  private nextLabel = 1;
  private addressValue = '';
  private endpoint: { readonly host: string; readonly port: number } | undefined;
  /** The token a TCP peer must present; undefined for local sockets, which the file mode protects. */
  readonly token: string | undefined;

  /** Findings the agents report. */
  readonly onEvent: Event<{ processKey: string; event: EventMessage }> = this.eventEmitter.event;
  /** An agent that speaks another protocol version connected (and was turned away). */
  readonly onProtocolMismatch: Event<ProtocolMismatch> = this.mismatchEmitter.event;

  private constructor(options: AgentServerOptions, token: string | undefined) {
    this.model = options.model;
    this.logger = options.logger;
    this.extensionVersion = options.extensionVersion;
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.pathMapper = options.pathMapper;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.token = token;
  }

  /** Starts listening: a private local socket (the default), or TCP with a token. */
  static async listen(options: AgentServerOptions, how: ListenOptions = { kind: 'local' }): Promise<AgentServer> {
    const token = how.kind === 'tcp' ? crypto.randomBytes(24).toString('hex') : undefined;
    const server = new AgentServer(options, token);
    await server.start(how);
    return server;
  }

  /**
   * The address agents on this machine connect to, as `TASKSCOPE_CONNECT` takes it. For TCP
   * on a wildcard host (`0.0.0.0`, `::`) it is 127.0.0.1, which the wildcard covers.
   */
  get address(): string {
    return this.addressValue;
  }

  /** For TCP: the address the listener is bound to (as the system reports it) and its port. */
  get tcpEndpoint(): { readonly host: string; readonly port: number } | undefined {
    return this.endpoint;
  }

  /**
   * Stops taking new connections; the connections already made go on until they end (or
   * until `dispose`). For a TCP listener whose host is no longer wanted.
   */
  stopListening(): void {
    if (this.server?.listening) this.server.close();
  }

  /** Sends a command to one process and waits for its result. */
  async command(processKey: string, request: CommandRequest): Promise<ResultMessage> {
    const connection = this.connections.get(processKey);
    if (!connection) throw new CommandError('the process is no longer connected');
    return connection.command(request, this.commandTimeoutMs);
  }

  isConnected(processKey: string): boolean {
    return this.connections.has(processKey);
  }

  dispose(): void {
    for (const connection of this.sockets) connection.close();
    this.stopListening();
    if (this.privateDir) fs.rmSync(this.privateDir, { recursive: true, force: true });
    this.eventEmitter.dispose();
    this.mismatchEmitter.dispose();
  }

  /** @internal for AgentConnection */
  register(connection: AgentConnection): void {
    if (connection.key) this.connections.set(connection.key, connection);
  }

  /** @internal for AgentConnection */
  unregister(connection: AgentConnection): void {
    if (connection.key) this.connections.delete(connection.key);
  }

  /** @internal for AgentConnection */
  fireEvent(processKey: string, event: EventMessage): void {
    this.eventEmitter.fire({ processKey, event });
  }

  /** @internal for AgentConnection */
  fireMismatch(mismatch: ProtocolMismatch): void {
    this.mismatchEmitter.fire(mismatch);
  }

  private async start(how: ListenOptions): Promise<void> {
    const server = net.createServer((socket) => {
      // A TCP peer is named by its address in every line logged about it.
      const peer = socket.remoteAddress && (net.isIPv6(socket.remoteAddress) ? `[${socket.remoteAddress}]` : socket.remoteAddress);
      const label = `#${this.nextLabel++}` + (peer ? ` from ${peer}:${socket.remotePort}` : '');
      const connection = new AgentConnection(socket, this, label, this.token, this.handshakeTimeoutMs);
      this.sockets.add(connection);
      socket.on('close', () => this.sockets.delete(connection));
    });
    this.server = server;
    server.on('error', (e) => this.logger.error(`agent server: ${e.message}`));
    if (how.kind === 'tcp') {
      await listenOn(server, { host: how.host ?? DEFAULT_LISTEN_HOST, port: how.port ?? 0 });
      const { address, port } = server.address() as net.AddressInfo;
      this.endpoint = { host: address, port };
      this.addressValue = localTcpAddress(address, port);
    } else if (process.platform === 'win32') {
      const name = `\\\\.\\pipe\\taskscope-${crypto.randomBytes(12).toString('hex')}`;
      await listenOn(server, { path: name });
      this.addressValue = `pipe:${name}`;
    } else {
      // mkdtemp creates the directory with mode 0700: only this user can reach the socket.
      this.privateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskscope-'));
      fs.chmodSync(this.privateDir, 0o700);
      const socketPath = path.join(this.privateDir, 'ipc.sock');
      await listenOn(server, { path: socketPath });
      fs.chmodSync(socketPath, 0o600);
      this.addressValue = `unix:${socketPath}`;
    }
  }
}

function listenOn(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
