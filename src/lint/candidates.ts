/**
 * One pass over the text finds the places worth confirming on the tree: calls whose callee
 * could matter to a check (judged from the text of the callee and the module's imports), and
 * `except` clauses. Most calls of a module (`d.get(k)`, `range(n)`) are ruled out here, without
 * asking tree-sitter anything.
 */

import { ASYNCIO_AWAITABLES, AWAITABLE_NAMES } from './checks/neverAwaited';
import { BLOCKING_NAMES, BLOCKING_QUALIFIED, BUILTIN_BLOCKING, FILE_METHODS } from './checks/blockingCall';
import { CREATOR_NAMES, CREATORS, LOOP_NAME, isLongLivedSet } from './checks/danglingTask';
import { type ModuleContext, isImported, resolveName } from './moduleContext';
import { lastSegment } from './syntax';

export const CREATES = 1;
export const AWAITABLE = 2;
export const BLOCKS = 4;
export const SUPPRESS = 8;
export const EXCEPT = 16;
export const ADDS = 32;

export interface Candidate {
  readonly offset: number;
  /** Which checks to run: CREATES | AWAITABLE | BLOCKS | SUPPRESS | ADDS, or EXCEPT for an `except` keyword. */
  readonly flags: number;
}

const EXCEPT_LINE = /^([ \t]*)except\b([^\n]*)/gm;
/** What may stand right before a call whose value is flagged when not awaited: a statement's start, `_ =`, a condition. */
const UNAWAITED_CONTEXT = /(?:^|[;:]|(?:^|[^\w.])_[ \t]*=|\b(?:if|elif|while|not|and|or|assert|else))[ \t(]*$/;

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c > 0x7f;
}

/**
 * The dotted receiver before `.name(` at `dot` (the offset of the dot): `self.loop` in
 * `self.loop.create_task(`, null when the receiver ends with `)` or `]`, and the offset where the
 * callee expression starts.
 */
function receiverBefore(text: string, dot: number): { receiver: string | null; start: number } {
  let i = dot - 1;
  while (i >= 0 && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i--;
  const end = i + 1;
  const last = text.charCodeAt(i);
  if (last === 0x29 || last === 0x5d) return { receiver: null, start: end };
  while (i >= 0 && (isWordChar(text.charCodeAt(i)) || text.charCodeAt(i) === 0x2e)) i--;
  const receiver = text.slice(i + 1, end);
  return { receiver: /^[A-Za-z_]/.test(receiver) ? receiver : null, start: i + 1 };
}

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
  add('add', ADDS);
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
  if (flags & ADDS && receiver && isLongLivedSet(module, receiver)) out |= ADDS;
  return out;
}

/** Every candidate of the module, in text order. */
export function findCandidates(text: string, module: ModuleContext): Candidate[] {
  const names = callNames(module);
  const out: Candidate[] = [];
  // Every `(`, and the name right before it: cheaper than a regex that tries every identifier.
  for (let paren = text.indexOf('('); paren >= 0; paren = text.indexOf('(', paren + 1)) {
    let end = paren - 1;
    while (end >= 0 && (text.charCodeAt(end) === 0x20 || text.charCodeAt(end) === 0x09)) end--;
    let start = end;
    while (start >= 0 && isWordChar(text.charCodeAt(start))) start--;
    start++;
    if (start > end || (text.charCodeAt(start) >= 0x30 && text.charCodeAt(start) <= 0x39)) continue;
    const name = text.slice(start, end + 1);
    const flags = names.get(name);
    if (!flags) continue;
    let receiver: string | null | undefined;
    let calleeStart = start;
    let i = start - 1;
    while (i >= 0 && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i--;
    if (i >= 0 && text.charCodeAt(i) === 0x2e) ({ receiver, start: calleeStart } = receiverBefore(text, i));
    let narrowed = narrow(module, name, receiver, flags);
    if (narrowed & (AWAITABLE | BLOCKS)) {
      const before = text.slice(text.lastIndexOf('\n', calleeStart - 1) + 1, calleeStart);
      // An awaited call is neither an unawaited coroutine nor blocking.
      if (/\bawait[ \t]*$/.test(before)) narrowed &= ~(AWAITABLE | BLOCKS);
      else if (narrowed & AWAITABLE && !UNAWAITED_CONTEXT.test(before)) narrowed &= ~AWAITABLE;
    }
    if (narrowed) out.push({ offset: start, flags: narrowed });
  }
  if (text.includes('except')) {
    const catchers = cancellationNames(module);
    const excepts: Candidate[] = [];
    EXCEPT_LINE.lastIndex = 0;
    for (let m = EXCEPT_LINE.exec(text); m; m = EXCEPT_LINE.exec(text)) {
      if (!catchesCancellation(m[2], catchers) || reraises(text, m.index + m[0].length, m[1].length, m[2])) continue;
      excepts.push({ offset: m.index + m[1].length, flags: EXCEPT });
    }
    if (excepts.length) return merge(out, excepts);
  }
  return out;
}

/** Names that can catch CancelledError in an `except`: its own names and aliases, BaseException. */
function cancellationNames(module: ModuleContext): RegExp {
  const names = new Set(['CancelledError', 'BaseException']);
  for (const [local, target] of module.imports) if (/(?:^|\.)(?:CancelledError|BaseException)$/.test(target)) names.add(local);
  return new RegExp(`\\b(?:${[...names].join('|')})\\b`);
}

/** The text after `except` on its line: bare, or naming something that may be CancelledError. */
function catchesCancellation(rest: string, catchers: RegExp): boolean {
  return /^[ \t]*\*?[ \t]*:/.test(rest) || catchers.test(rest) || !rest.includes(':');
}

/** True when a line of the handler (or the `except` line itself, after its colon) starts with `raise`. */
function reraises(text: string, lineEnd: number, indent: number, rest: string): boolean {
  if (/:[ \t]*raise\b/.test(rest)) return true;
  let i = lineEnd + 1;
  while (i < text.length) {
    let end = text.indexOf('\n', i);
    if (end < 0) end = text.length;
    const line = text.slice(i, end);
    const body = /^([ \t]*)(\S?)/.exec(line)!;
    if (body[2] && body[2] !== '#') {
      if (body[1].length <= indent) return false;
      if (/^raise\b/.test(line.slice(body[1].length))) return true;
    }
    i = end + 1;
  }
  return false;
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
