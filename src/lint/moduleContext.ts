/**
 * What the checks need to know about a whole module, gathered in one quick pass over its text:
 * import aliases (at any scope), which functions and methods are `async def`, which names hold
 * an event loop, which sets are emptied, which are WeakSets. The text scan is cheap and needs no
 * tree; a header inside a string may be misread, which only makes a check more cautious.
 */

export interface ModuleContext {
  /** Local name -> the qualified name it stands for (`aio` -> `asyncio`, `ct` -> `asyncio.create_task`). */
  readonly imports: ReadonlyMap<string, string>;
  /** Names of plain functions (any scope) that are `async def` and nothing else. */
  readonly asyncFunctions: ReadonlySet<string>;
  /** Names of methods (defined in a class body) that are `async def` and nothing else. */
  readonly asyncMethods: ReadonlySet<string>;
  /** Names of all `def`s, `async def`s and classes, to tell when a builtin such as `open` is shadowed. */
  readonly definedNames: ReadonlySet<string>;
  /** Names and attribute chains assigned an event loop or annotated as one. */
  readonly loopNames: ReadonlySet<string>;
  /** Sets (names or attribute chains) that something removes items from. */
  readonly emptiedSets: ReadonlySet<string>;
  /** Names and attribute chains assigned a `WeakSet`. */
  readonly weakSets: ReadonlySet<string>;
  /** Names assigned at the top level of the module (a line that starts with `name =`). */
  readonly moduleNames: ReadonlySet<string>;
  /** Changes whenever any of the above changes: cached per-statement results depend on it. */
  readonly key: string;
}

/** asyncio names that plain `from asyncio import *` brings in and the checks care about. */
const ASYNCIO_STAR = [
  'create_task', 'ensure_future', 'Task', 'sleep', 'gather', 'wait', 'wait_for', 'shield', 'CancelledError',
  'get_event_loop', 'get_running_loop', 'new_event_loop', 'open_connection', 'start_server', 'to_thread',
];

/** Decorators that leave an `async def` a coroutine function. Anything else may not, so it is not trusted. */
const TRANSPARENT_DECORATORS = /^@(?:staticmethod|classmethod|(?:abc\.)?abstractmethod|(?:typing\.|typing_extensions\.)?override|(?:functools\.)?wraps\(.*\))\s*$/;

const IMPORT_LINE = /^[ \t]*(from[ \t]+([.\w]+)[ \t]+import\b|import[ \t])/gm;
const HEADER_LINE = /^([ \t]*)(?:(@.*)|(async[ \t]+)?def[ \t]+([A-Za-z_]\w*)|class[ \t]+([A-Za-z_]\w*))/gm;
// Each of these is found by its keyword first, then the name before it on the same line: a
// pattern that starts with the name would be tried at every identifier of the module.
const LOOP_FACTORY = /\b(?:get_event_loop|get_running_loop|new_event_loop)[ \t]*\(/g;
const ASSIGNED_BEFORE = /([A-Za-z_][\w.]*)[ \t]*(?::[^=\n]*)?=[ \t]*[\w.]*$/;
const LOOP_TYPE = /\bAbstractEventLoop\b/g;
const ANNOTATED_BEFORE = /([A-Za-z_][\w.]*)[ \t]*:[ \t]*[\w.]*$/;
const EMPTYING = /\.[ \t]*(?:discard|remove|difference_update|clear|pop)\b|-=/g;
const NAME_BEFORE = /([A-Za-z_][\w.]*)[ \t]*$/;
const WEAKSET = /\bWeakSet[ \t]*\(/g;
const MODULE_ASSIGN = /^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)/gm;

export function buildModuleContext(text: string): ModuleContext {
  const imports = new Map<string, string>();
  readImports(text, imports);

  const asyncFns = new Set<string>();
  const syncFns = new Set<string>();
  const asyncMethods = new Set<string>();
  const syncMethods = new Set<string>();
  const definedNames = new Set<string>();
  // Headers (decorators, defs, classes) with their indentation: the innermost enclosing header
  // tells whether a def is a method.
  const stack: { indent: number; isClass: boolean }[] = [];
  let decorators: string[] = [];
  for (let m = HEADER_LINE.exec(text); m; m = HEADER_LINE.exec(text)) {
    const indent = m[1].replace(/\t/g, '        ').length;
    if (m[2] !== undefined) {
      decorators.push(m[2].trim());
      continue;
    }
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    const inClass = stack.length > 0 && stack[stack.length - 1].isClass;
    if (m[5] !== undefined) {
      definedNames.add(m[5]);
      stack.push({ indent, isClass: true });
    } else {
      const name = m[4];
      definedNames.add(name);
      const isAsync = m[3] !== undefined && decorators.every((d) => TRANSPARENT_DECORATORS.test(d));
      (inClass ? (isAsync ? asyncMethods : syncMethods) : isAsync ? asyncFns : syncFns).add(name);
      stack.push({ indent, isClass: false });
    }
    decorators = [];
  }
  for (const n of syncFns) asyncFns.delete(n);
  for (const n of syncMethods) asyncMethods.delete(n);

  const loopNames = collect(text, LOOP_FACTORY, ASSIGNED_BEFORE);
  for (const n of collect(text, LOOP_TYPE, ANNOTATED_BEFORE)) loopNames.add(n);
  const emptiedSets = collect(text, EMPTYING, NAME_BEFORE);
  const weakSets = collect(text, WEAKSET, ASSIGNED_BEFORE);
  const moduleNames = new Set<string>();
  MODULE_ASSIGN.lastIndex = 0;
  for (let m = MODULE_ASSIGN.exec(text); m; m = MODULE_ASSIGN.exec(text)) moduleNames.add(m[1]);

  const key = JSON.stringify([
    [...imports].sort(),
    [...asyncFns].sort(),
    [...asyncMethods].sort(),
    [...definedNames].sort(),
    [...loopNames].sort(),
    [...emptiedSets].sort(),
    [...weakSets].sort(),
    [...moduleNames].sort(),
  ]);
  return { imports, asyncFunctions: asyncFns, asyncMethods, definedNames, loopNames, emptiedSets, weakSets, moduleNames, key };
}

/** `aio.create_task` -> `asyncio.create_task`, through the module's imports. */
export function resolveName(ctx: ModuleContext, dotted: string): string {
  const dot = dotted.indexOf('.');
  const head = dot < 0 ? dotted : dotted.slice(0, dot);
  const target = ctx.imports.get(head);
  if (target === undefined) return dotted;
  return dot < 0 ? target : target + dotted.slice(dot);
}

/** True when `dotted`'s first name comes from an import (so `requests.get` is the library, not a dict). */
export function isImported(ctx: ModuleContext, dotted: string): boolean {
  const dot = dotted.indexOf('.');
  return ctx.imports.has(dot < 0 ? dotted : dotted.slice(0, dot));
}

/** For each match of `keyword`, the name that `before` finds at the end of the line up to it. */
function collect(text: string, keyword: RegExp, before: RegExp): Set<string> {
  const out = new Set<string>();
  keyword.lastIndex = 0;
  for (let m = keyword.exec(text); m; m = keyword.exec(text)) {
    const lineStart = text.lastIndexOf('\n', m.index - 1) + 1;
    const name = before.exec(text.slice(lineStart, m.index));
    if (name) out.add(name[1]);
  }
  return out;
}

/** The whole statement from an import keyword: up to the end of the line, or the closing parenthesis. */
function statementAt(text: string, start: number): string {
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  const open = text.indexOf('(', start);
  if (open >= 0 && open < end) {
    const close = text.indexOf(')', open);
    if (close >= 0) end = close + 1;
  }
  while (end < text.length && text[end - 1] === '\\') {
    const next = text.indexOf('\n', end + 1);
    end = next < 0 ? text.length : next;
  }
  return text.slice(start, end);
}

function readImports(text: string, imports: Map<string, string>): void {
  IMPORT_LINE.lastIndex = 0;
  for (let m = IMPORT_LINE.exec(text); m; m = IMPORT_LINE.exec(text)) {
    const statement = statementAt(text, m.index)
      .replace(/#[^\n]*/g, '')
      .replace(/[()\\\n]/g, ' ')
      .split(';')[0];
    if (m[2] !== undefined) {
      const module = m[2];
      const names = statement.slice(statement.indexOf('import') + 'import'.length);
      for (const part of names.split(',')) {
        const [name, alias] = part.trim().split(/\s+as\s+/);
        if (!name) continue;
        if (name === '*') {
          if (module === 'asyncio') for (const n of ASYNCIO_STAR) imports.set(n, `asyncio.${n}`);
          continue;
        }
        if (/^\w+$/.test(name)) imports.set((alias ?? name).trim(), `${module}.${name}`);
      }
    } else {
      for (const part of statement.trim().slice('import'.length).split(',')) {
        const [name, alias] = part.trim().split(/\s+as\s+/);
        if (!name || !/^[\w.]+$/.test(name)) continue;
        if (alias) imports.set(alias.trim(), name);
        else imports.set(name.split('.')[0], name.split('.')[0]);
      }
    }
  }
}
