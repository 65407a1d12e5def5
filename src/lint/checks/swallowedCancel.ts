/**
 * TSK003: `asyncio.CancelledError` caught in an async function and not re-raised. It is caught
 * by `except CancelledError` (alone or in a tuple), `except BaseException`, a bare `except:`,
 * or `contextlib.suppress(CancelledError)`. Not flagged: a handler that raises, and the usual
 * way to wait for a task one has just cancelled (`t.cancel()` ... `await t` in the `try`).
 */

import { escapeRegExp, type Node, dottedName } from '../syntax';
import { type CallSite, CheckContext } from './checkContext';

const CANCEL_TYPES = new Set(['asyncio.CancelledError', 'asyncio.exceptions.CancelledError', 'CancelledError']);
const BASE = new Set(['BaseException', 'builtins.BaseException']);

type Catch = 'cancelled' | 'base' | 'bare';

/** The `except` clause whose keyword is at `offset`. */
export function checkExceptClause(cc: CheckContext, offset: number): void {
  const at = cc.at(offset);
  const clause = at.up;
  if (at.type !== 'except' || !clause || (clause.type !== 'except_clause' && clause.type !== 'except_group_clause')) return;
  const scope = cc.scope(clause);
  if (!scope.isAsync) return;
  let value = clause.node.childForFieldName('value');
  if (value?.type === 'as_pattern') value = value.firstChild;
  const caught = value ? catches(cc, value) : 'bare';
  if (!caught) return;
  const body = clause.node.lastChild;
  if (!body || raises(cc, body)) return;
  const tryBody = clause.up?.node.childForFieldName('body');
  if (tryBody && scope.node && awaitsCancelledTask(cc.textOf(tryBody), cc.textOf(scope.node))) return;
  cc.report('TSK003', value ?? at.node, message(caught));
}

/** `with contextlib.suppress(CancelledError):` in an async function. */
export function checkSuppress(cc: CheckContext, call: CallSite): void {
  if (call.qualified !== 'contextlib.suppress') return;
  const args = call.at.node.lastChild;
  if (!args || args.type !== 'argument_list') return;
  let caught: Catch | undefined;
  for (const arg of args.namedChildren) caught ??= arg ? catches(cc, arg) : undefined;
  if (!caught || !cc.scope(call.at).isAsync) return;
  const item = call.at.up;
  const withStatement = item?.type === 'with_item' ? item.ancestor(2) : undefined;
  const fn = cc.scope(call.at).node;
  const body = withStatement?.node.childForFieldName('body');
  if (body && fn && awaitsCancelledTask(cc.textOf(body), cc.textOf(fn))) return;
  cc.report('TSK003', call.at.node, message(caught, true));
}

function catches(cc: CheckContext, type: Node): Catch | undefined {
  if (type.type === 'tuple' || type.type === 'parenthesized_expression') {
    let found: Catch | undefined;
    for (const child of type.namedChildren) found ??= child ? catches(cc, child) : undefined;
    return found;
  }
  const d = dottedName(type);
  if (!d) return undefined;
  const q = cc.resolve(d);
  if (CANCEL_TYPES.has(q)) return 'cancelled';
  if (BASE.has(q)) return 'base';
  return undefined;
}

/** True when the handler has a `raise` of its own (a `raise` in a string or comment does not count). */
function raises(cc: CheckContext, body: Node): boolean {
  const re = /\braise\b/g;
  const text = cc.textOf(body);
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = cc.at(body.startIndex + m.index);
    if (at.type === 'raise') return true;
  }
  return false;
}

/** `t.cancel()` (or `t.cancel` handed to a timer) in the function and `await t` in the guarded code: waiting for a task one cancelled. */
function awaitsCancelledTask(guarded: string, fn: string): boolean {
  const re = /\bawait[ \t]+([A-Za-z_][\w.]*)(?![\w.(])/g;
  for (let m = re.exec(guarded); m; m = re.exec(guarded)) {
    if (new RegExp(`(?<![\\w.])${escapeRegExp(m[1])}[ \\t]*\\.[ \\t]*cancel\\b`).test(fn)) return true;
  }
  return false;
}

function message(caught: Catch, suppress = false): string {
  const how = suppress
    ? `\`contextlib.suppress(${caught === 'base' ? 'BaseException' : 'CancelledError'})\` swallows cancellation`
    : caught === 'cancelled'
      ? '`CancelledError` is caught and not re-raised'
      : caught === 'base'
        ? '`except BaseException` catches `CancelledError` and does not re-raise it'
        : 'a bare `except:` catches `CancelledError` and does not re-raise it';
  return `Swallowed cancellation: ${how}, so this task ignores \`cancel()\`: timeouts, TaskGroups and shutdown wait for it or hang. Re-raise it (\`raise\`) after cleaning up${suppress ? ', or catch it with try/except and re-raise' : ''}.`;
}
