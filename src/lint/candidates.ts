/**
 * One pass over the text finds the places worth confirming on the tree: calls whose callee
 * could matter to a check (judged from the text of the callee and the module's imports), and
 * `except` clauses. Most calls of a module (`d.get(k)`, `range(n)`) are ruled out here, without
 * asking tree-sitter anything.
 */

import { ASYNCIO_AWAITABLES, AWAITABLE_NAMES } from './checks/neverAwaited';
import { BLOCKING_NAMES, BLOCKING_QUALIFIED, BUILTIN_BLOCKING, FILE_METHODS } from './checks/blockingCall';
import { CREATOR_NAMES, CREATORS, LOOP_NAME } from './checks/danglingTask';
import { type ModuleContext, isImported, resolveName } from './moduleContext';
import { lastSegment } from './syntax';

export const CREATES = 1;
export const AWAITABLE = 2;
export const BLOCKS = 4;
export const SUPPRESS = 8;
export const EXCEPT = 16;

export interface Candidate {
  readonly offset: number;
  /** Which checks to run: CREATES | AWAITABLE | BLOCKS | SUPPRESS, or EXCEPT for an `except` keyword. */
  readonly flags: number;
}

const CALL = /\b([A-Za-z_]\w*)[ \t]*\(/g;
const EXCEPT_LINE = /^[ \t]*except\b/gm;
const RECEIVER = /(?:^|[^\w.)\]])([A-Za-z_][\w.]*)$|[)\]]$/;

/** Callee last names worth a look, with the checks each one may be for. */
function callNames(module: ModuleContext): Map<string, number> {
  const names = new Map<string, number>();
  const add = (name: string, flag: number) => names.set(name, (names.get(name) ?? 0) | flag);
  CREATOR_NAMES.forEach((n) => add(n, CREATES));
  AWAITABLE_NAMES.forEach((n) => add(n, AWAITABLE));
  module.asyncFunctions.forEach((n) => add(n, AWAITABLE));
  module.asyncMethods.forEach((n) => add(n, AWAITABLE));
  BLOCKING_NAMES.forEach((n) => add(n, BLOCKS));
  add('suppress', SUPPRESS);
  for (const [local, target] of module.imports) {
    if (CREATORS.has(target)) add(local, CREATES);
    if (ASYNCIO_AWAITABLES.has(target)) add(local, AWAITABLE);
    if (BLOCKING_QUALIFIED.has(target)) add(local, BLOCKS);
    if (target === 'contextlib.suppress') add(local, SUPPRESS);
  }
  return names;
}

/**
 * Narrows `flags` from the text before the callee's last name: `receiver` is the dotted name
 * before `.name(` (undefined for a bare call, null when the receiver is a call or subscript).
 */
function narrow(module: ModuleContext, name: string, receiver: string | null | undefined, flags: number): number {
  const dotted = receiver ? `${receiver}.${name}` : receiver === undefined ? name : undefined;
  const q = dotted === undefined ? undefined : resolveName(module, dotted);
  let out = 0;
  if (flags & CREATES) {
    if (q !== undefined && CREATORS.has(q)) out |= CREATES;
    else if (name === 'create_task' && receiver !== undefined) {
      if (receiver === null || module.loopNames.has(receiver) || LOOP_NAME.test(lastSegment(receiver))) out |= CREATES;
    }
  }
  if (flags & AWAITABLE) {
    if (q !== undefined && ASYNCIO_AWAITABLES.has(q)) out |= AWAITABLE;
    else if (receiver === undefined ? module.asyncFunctions.has(name) : module.asyncMethods.has(name)) out |= AWAITABLE;
  }
  if (flags & BLOCKS) {
    if (receiver !== undefined && FILE_METHODS.has(name)) out |= BLOCKS;
    else if (receiver === undefined && BUILTIN_BLOCKING[name]) out |= BLOCKS;
    else if (q !== undefined && dotted !== undefined && BLOCKING_QUALIFIED.has(q) && isImported(module, dotted)) out |= BLOCKS;
  }
  if (flags & SUPPRESS && q === 'contextlib.suppress') out |= SUPPRESS;
  return out;
}

/** Every candidate of the module, in text order. */
export function findCandidates(text: string, module: ModuleContext): Candidate[] {
  const names = callNames(module);
  const out: Candidate[] = [];
  CALL.lastIndex = 0;
  for (let m = CALL.exec(text); m; m = CALL.exec(text)) {
    const flags = names.get(m[1]);
    if (!flags) continue;
    let receiver: string | null | undefined;
    let i = m.index - 1;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
    if (i >= 0 && text[i] === '.') {
      const before = RECEIVER.exec(text.slice(Math.max(0, i - 120), i).trimEnd());
      receiver = before?.[1] ?? null;
    }
    const narrowed = narrow(module, m[1], receiver, flags);
    if (narrowed) out.push({ offset: m.index, flags: narrowed });
  }
  if (text.includes('except')) {
    const excepts: Candidate[] = [];
    EXCEPT_LINE.lastIndex = 0;
    for (let m = EXCEPT_LINE.exec(text); m; m = EXCEPT_LINE.exec(text)) {
      excepts.push({ offset: m.index + m[0].length - 'except'.length, flags: EXCEPT });
    }
    if (excepts.length) return merge(out, excepts);
  }
  return out;
}

function merge(a: Candidate[], b: Candidate[]): Candidate[] {
  const out: Candidate[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i].offset <= b[j].offset)) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}
