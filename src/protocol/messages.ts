/**
 * The messages of the TaskScope wire protocol (docs/protocol.md) and their validation.
 *
 * Pure TypeScript: no `vscode` import, so the same code is tested in plain Node.
 * Every message that arrives from an agent goes through `parseAgentMessage` before anything
 * else looks at it; a message that fails gets a reason that names the field.
 */

export const PROTOCOL_VERSION = 1;

export type TaskState = 'pending' | 'running' | 'done' | 'cancelled' | 'failed';
export const TASK_STATES: readonly TaskState[] = ['pending', 'running', 'done', 'cancelled', 'failed'];

export interface Frame {
  readonly file: string;
  readonly line: number;
  readonly function: string;
  readonly user?: boolean;
}

export interface TaskException {
  readonly type: string;
  readonly message: string;
  /** Outermost frame first. */
  readonly traceback?: readonly Frame[];
}

export const WAIT_KINDS = [
  'task', 'gather', 'taskgroup', 'wait', 'lock', 'semaphore', 'event', 'condition', 'queue', 'future', 'sleep', 'other',
] as const;
export type WaitKind = (typeof WAIT_KINDS)[number];

/** What a task waits for, when the agent can tell. */
export interface WaitTarget {
  readonly kind: WaitKind;
  readonly tasks?: readonly string[];
  readonly label?: string;
}

export interface TaskRecord {
  readonly id: string;
  readonly name: string;
  readonly coro: string;
  readonly state: TaskState;
  readonly parent: string | null;
  readonly loop: string;
  readonly created: number;
  readonly site: Frame | null;
  readonly stack?: readonly Frame[];
  readonly awaiting?: readonly Frame[];
  readonly finished?: number;
  readonly exception?: TaskException;
  readonly cancelMessage?: string;
  readonly waitingSince?: number;
  readonly waitingOn?: WaitTarget;
  readonly group?: string;
}

export interface LoopRecord {
  readonly id: string;
  readonly thread: string;
  readonly threadId: number;
}

export interface HelloMessage {
  readonly type: 'hello';
  readonly protocol: number;
  readonly agent: string;
  readonly pid: number;
  readonly python: string;
  readonly argv: readonly string[];
  readonly implementation?: string;
  readonly executable?: string;
  readonly cwd?: string;
  readonly started?: number;
  readonly token?: string;
  readonly title?: string;
}

export interface SnapshotMessage {
  readonly type: 'snapshot';
  readonly seq: number;
  readonly time: number;
  readonly loops: readonly LoopRecord[];
  readonly tasks: readonly TaskRecord[];
  readonly dropped?: number;
}

export interface DeltaMessage {
  readonly type: 'delta';
  readonly seq: number;
  readonly time: number;
  readonly upsert: readonly TaskRecord[];
  readonly remove: readonly string[];
  readonly loops?: readonly LoopRecord[];
}

export interface EventMessage {
  readonly type: 'event';
  readonly seq: number;
  readonly time: number;
  readonly kind: string;
  readonly message: string;
  readonly task?: string;
  readonly site?: Frame;
  readonly evidence?: Readonly<Record<string, unknown>>;
}

export interface ResultMessage {
  readonly type: 'result';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

export interface ByeMessage {
  readonly type: 'bye';
  readonly exitCode: number | null;
}

export type AgentMessage =
  | HelloMessage
  | SnapshotMessage
  | DeltaMessage
  | EventMessage
  | ResultMessage
  | ByeMessage;

export interface WelcomeMessage {
  readonly type: 'welcome';
  readonly protocol: number;
  readonly extension: string;
}

export interface RejectMessage {
  readonly type: 'reject';
  readonly protocol: number;
  readonly extension: string;
  readonly reason: string;
}

/** Commands the extension sends; each names its own fields (docs/protocol.md, `command`). */
export interface CommandMessage {
  readonly type: 'command';
  readonly id: number;
  /** `cancel` in this version; an agent answers any other with `ok: false`. */
  readonly command: string;
  /** The task the command concerns; required by `cancel`. */
  readonly task?: string;
  /** The cancellation message handed to `Task.cancel(msg)`. */
  readonly msg?: string;
  /** `setInterval`: the sampling interval in seconds. */
  readonly interval?: number;
}

/** The fields each known command requires besides `id` and `command`, and their types. */
const COMMAND_FIELDS: Readonly<Record<string, Readonly<Record<string, 'string' | 'number'>>>> = {
  cancel: { task: 'string' },
  cancelTree: { task: 'string' },
  stack: { task: 'string' },
  setInterval: { interval: 'number' },
};
export type ExtensionMessage = WelcomeMessage | RejectMessage | CommandMessage;

/** The outcome of parsing one line: the message, or why it was refused. */
export type ParseResult<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: string };

/** Thrown inside the validators; turned into a `ParseResult` at the edge. */
class InvalidMessage extends Error {}

type Json = Record<string, unknown>;

function fail(path: string, expected: string, value: unknown): never {
  const shown = value === undefined ? 'missing' : JSON.stringify(value)?.slice(0, 60);
  throw new InvalidMessage(`${path}: expected ${expected}, got ${shown}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(obj: Json, key: string, path: string): string {
  const v = obj[key];
  return typeof v === 'string' ? v : fail(`${path}.${key}`, 'a string', v);
}

function optStr(obj: Json, key: string, path: string): string | undefined {
  return obj[key] === undefined ? undefined : str(obj, key, path);
}

function num(obj: Json, key: string, path: string): number {
  const v = obj[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fail(`${path}.${key}`, 'a number', v);
}

function int(obj: Json, key: string, path: string): number {
  const v = obj[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : fail(`${path}.${key}`, 'an integer', v);
}

function array(obj: Json, key: string, path: string): unknown[] {
  const v = obj[key];
  return Array.isArray(v) ? v : fail(`${path}.${key}`, 'an array', v);
}

function object(value: unknown, path: string): Json {
  return isObject(value) ? value : fail(path, 'an object', value);
}

function strings(obj: Json, key: string, path: string): string[] {
  return array(obj, key, path).map((v, i) => (typeof v === 'string' ? v : fail(`${path}.${key}[${i}]`, 'a string', v)));
}

export function validateFrame(value: unknown, path: string): Frame {
  const o = object(value, path);
  const line = int(o, 'line', path);
  if (line < 0) fail(`${path}.line`, 'a line number ≥ 0', line);
  const frame: { file: string; line: number; function: string; user?: boolean } = {
    file: str(o, 'file', path),
    line,
    function: str(o, 'function', path),
  };
  if (o.user !== undefined) {
    if (typeof o.user !== 'boolean') fail(`${path}.user`, 'a boolean', o.user);
    frame.user = o.user;
  }
  return frame;
}

function frames(obj: Json, key: string, path: string): Frame[] | undefined {
  if (obj[key] === undefined) return undefined;
  return array(obj, key, path).map((f, i) => validateFrame(f, `${path}.${key}[${i}]`));
}

export function validateTask(value: unknown, path: string): TaskRecord {
  const o = object(value, path);
  const state = o.state;
  if (typeof state !== 'string' || !(TASK_STATES as readonly string[]).includes(state)) {
    fail(`${path}.state`, `one of ${TASK_STATES.join(', ')}`, state);
  }
  const parent = o.parent;
  if (parent !== null && typeof parent !== 'string') fail(`${path}.parent`, 'a task id or null', parent);
  const site = o.site === null || o.site === undefined ? null : validateFrame(o.site, `${path}.site`);
  let exception: TaskException | undefined;
  if (o.exception !== undefined) {
    const e = object(o.exception, `${path}.exception`);
    exception = {
      type: str(e, 'type', `${path}.exception`),
      message: str(e, 'message', `${path}.exception`),
      traceback: frames(e, 'traceback', `${path}.exception`),
    };
  }
  let waitingOn: WaitTarget | undefined;
  if (o.waitingOn !== undefined) {
    const w = object(o.waitingOn, `${path}.waitingOn`);
    if (typeof w.kind !== 'string' || !(WAIT_KINDS as readonly string[]).includes(w.kind)) {
      fail(`${path}.waitingOn.kind`, `one of ${WAIT_KINDS.join(', ')}`, w.kind);
    }
    waitingOn = {
      kind: w.kind as WaitKind,
      tasks: w.tasks === undefined ? undefined : strings(w, 'tasks', `${path}.waitingOn`),
      label: optStr(w, 'label', `${path}.waitingOn`),
    };
  }
  return {
    id: str(o, 'id', path),
    name: str(o, 'name', path),
    coro: str(o, 'coro', path),
    state: state as TaskState,
    parent: parent as string | null,
    loop: str(o, 'loop', path),
    created: num(o, 'created', path),
    site,
    stack: frames(o, 'stack', path),
    awaiting: frames(o, 'awaiting', path),
    finished: o.finished === undefined ? undefined : num(o, 'finished', path),
    exception,
    cancelMessage: optStr(o, 'cancelMessage', path),
    waitingSince: o.waitingSince === undefined ? undefined : num(o, 'waitingSince', path),
    waitingOn,
    group: optStr(o, 'group', path),
  };
}

function validateLoop(value: unknown, path: string): LoopRecord {
  const o = object(value, path);
  return { id: str(o, 'id', path), thread: str(o, 'thread', path), threadId: int(o, 'threadId', path) };
}

function validateAgentObject(o: Json): AgentMessage {
  switch (o.type) {
    case 'hello':
      return {
        type: 'hello',
        protocol: int(o, 'protocol', 'hello'),
        agent: str(o, 'agent', 'hello'),
        pid: int(o, 'pid', 'hello'),
        python: str(o, 'python', 'hello'),
        argv: strings(o, 'argv', 'hello'),
        implementation: optStr(o, 'implementation', 'hello'),
        executable: optStr(o, 'executable', 'hello'),
        cwd: optStr(o, 'cwd', 'hello'),
        started: o.started === undefined ? undefined : num(o, 'started', 'hello'),
        token: optStr(o, 'token', 'hello'),
        title: optStr(o, 'title', 'hello'),
      };
    case 'snapshot':
      return {
        type: 'snapshot',
        seq: int(o, 'seq', 'snapshot'),
        time: num(o, 'time', 'snapshot'),
        loops: array(o, 'loops', 'snapshot').map((l, i) => validateLoop(l, `snapshot.loops[${i}]`)),
        tasks: array(o, 'tasks', 'snapshot').map((t, i) => validateTask(t, `snapshot.tasks[${i}]`)),
        dropped: o.dropped === undefined ? undefined : int(o, 'dropped', 'snapshot'),
      };
    case 'delta':
      return {
        type: 'delta',
        seq: int(o, 'seq', 'delta'),
        time: num(o, 'time', 'delta'),
        upsert: array(o, 'upsert', 'delta').map((t, i) => validateTask(t, `delta.upsert[${i}]`)),
        remove: strings(o, 'remove', 'delta'),
        loops:
          o.loops === undefined
            ? undefined
            : array(o, 'loops', 'delta').map((l, i) => validateLoop(l, `delta.loops[${i}]`)),
      };
    case 'event': {
      let evidence: Record<string, unknown> | undefined;
      if (o.evidence !== undefined) evidence = object(o.evidence, 'event.evidence');
      return {
        type: 'event',
        seq: int(o, 'seq', 'event'),
        time: num(o, 'time', 'event'),
        kind: str(o, 'kind', 'event'),
        message: str(o, 'message', 'event'),
        task: optStr(o, 'task', 'event'),
        site: o.site === undefined ? undefined : validateFrame(o.site, 'event.site'),
        evidence,
      };
    }
    case 'result': {
      const ok = o.ok;
      if (typeof ok !== 'boolean') fail('result.ok', 'a boolean', ok);
      return {
        type: 'result',
        id: int(o, 'id', 'result'),
        ok,
        value: o.value,
        error: ok ? optStr(o, 'error', 'result') : str(o, 'error', 'result'),
      };
    }
    case 'bye': {
      const code = o.exitCode;
      if (code !== null && code !== undefined && !(typeof code === 'number' && Number.isInteger(code))) {
        fail('bye.exitCode', 'an integer or null', code);
      }
      return { type: 'bye', exitCode: (code as number | null | undefined) ?? null };
    }
    default:
      return fail('type', 'one of hello, snapshot, delta, event, result, bye', o.type);
  }
}

function validateExtensionObject(o: Json): ExtensionMessage {
  switch (o.type) {
    case 'welcome':
      return { type: 'welcome', protocol: int(o, 'protocol', 'welcome'), extension: str(o, 'extension', 'welcome') };
    case 'reject':
      return {
        type: 'reject',
        protocol: int(o, 'protocol', 'reject'),
        extension: str(o, 'extension', 'reject'),
        reason: str(o, 'reason', 'reject'),
      };
    case 'command': {
      const id = int(o, 'id', 'command');
      const command = str(o, 'command', 'command');
      for (const [field, kind] of Object.entries(COMMAND_FIELDS[command] ?? {})) {
        if (kind === 'string') str(o, field, `command(${command})`);
        else if (num(o, field, `command(${command})`) <= 0) fail(`command(${command}).${field}`, 'a number > 0', o[field]);
      }
      return {
        type: 'command',
        id,
        command,
        task: optStr(o, 'task', 'command'),
        msg: optStr(o, 'msg', 'command'),
        interval: o.interval === undefined ? undefined : num(o, 'interval', 'command'),
      };
    }
    default:
      return fail('type', 'one of welcome, reject, command', o.type);
  }
}

function parseWith<T>(line: string, validate: (o: Json) => T): ParseResult<T> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  if (!isObject(value)) return { ok: false, error: 'not a JSON object' };
  try {
    return { ok: true, message: validate(value) };
  } catch (e) {
    if (e instanceof InvalidMessage) return { ok: false, error: e.message };
    throw e;
  }
}

/** Parses and validates one line received from an agent. Never throws. */
export function parseAgentMessage(line: string): ParseResult<AgentMessage> {
  return parseWith(line, validateAgentObject);
}

/**
 * Parses and validates one line as the agent would receive it. The extension uses it in its
 * tests to prove that what it sends is what the protocol allows.
 */
export function parseExtensionMessage(line: string): ParseResult<ExtensionMessage> {
  return parseWith(line, validateExtensionObject);
}

/** Encodes one message as a protocol line (JSON plus the newline). */
export function encodeMessage(message: AgentMessage | ExtensionMessage): string {
  return JSON.stringify(message) + '\n';
}
