/**
 * TSK002: a coroutine (or another awaitable) that is created and never awaited. The callee is
 * an `async def` of the same module (a plain function by its name, a method through `self.` or
 * `cls.`), or a well-known asyncio coroutine function; the call is a statement of its own, bound
 * to `_`, or used for its truth value (always true for a coroutine object).
 */

import type { At } from '../syntax';
import { type CallSite, CheckContext } from './checkContext';

/** asyncio functions whose result must be awaited. */
export const ASYNCIO_AWAITABLES = new Set([
  'asyncio.sleep', 'asyncio.gather', 'asyncio.wait', 'asyncio.wait_for', 'asyncio.open_connection', 'asyncio.start_server',
  'asyncio.open_unix_connection', 'asyncio.start_unix_server', 'asyncio.to_thread', 'asyncio.create_subprocess_exec',
  'asyncio.create_subprocess_shell',
]);
/** Callee names an awaitable call can be found by (the module's own async defs are added). */
export const AWAITABLE_NAMES = [...ASYNCIO_AWAITABLES].map((q) => q.slice('asyncio.'.length));

type Use = 'statement' | 'underscore' | 'condition';

export function awaitableCallee(cc: CheckContext, call: CallSite): string | undefined {
  const { dotted, qualified, name, receiver } = call;
  if (qualified && ASYNCIO_AWAITABLES.has(qualified) && dotted !== undefined) {
    const head = dotted.split('.')[0];
    if ((head === 'asyncio' || cc.module.imports.has(head)) && !cc.shadowed(call.at, head)) return qualified;
  }
  if (!receiver && cc.module.asyncFunctions.has(name) && !cc.module.imports.has(name) && !cc.shadowed(call.at, name)) return name;
  if (receiver && /^(?:self|cls|super\(\s*\))$/.test(receiver.text) && cc.module.asyncMethods.has(name)) return dotted ?? name;
  return undefined;
}

export function checkAwaitable(cc: CheckContext, call: CallSite): void {
  const callee = awaitableCallee(cc, call);
  if (!callee) return;
  const use = unawaitedUse(call.at);
  if (!use) return;
  const what = callee.startsWith('asyncio.') ? `\`${callee}()\` returns an awaitable` : `\`${callee}()\` is an async function, so calling it only creates a coroutine`;
  const consequence =
    use === 'condition'
      ? 'a coroutine object is always true, so this test never looks at the result (and the coroutine never runs).'
      : use === 'underscore'
        ? 'binding it to `_` drops it, so its body never runs (Python warns "coroutine ... was never awaited").'
        : 'it is never awaited, so its body never runs (Python warns "coroutine ... was never awaited").';
  cc.report('TSK002', call.at.node, `Coroutine never awaited: ${what}; ${consequence} Add \`await\`, or wrap it in \`asyncio.create_task()\` and keep the task.`);
}

/** How the call's value is left unawaited, or undefined when it is used some other way. */
function unawaitedUse(call: At): Use | undefined {
  let a = call;
  while (a.up?.type === 'parenthesized_expression') a = a.up;
  const p = a.up;
  if (!p) return undefined;
  switch (p.type) {
    case 'expression_statement':
      return 'statement';
    case 'assignment': {
      if (a.isFirstChild || a.node.endIndex !== p.node.endIndex) return undefined;
      return p.node.firstChild?.text === '_' ? 'underscore' : undefined;
    }
    case 'if_statement':
    case 'elif_clause':
    case 'while_statement':
      return p.node.childForFieldName('condition')?.startIndex === a.node.startIndex ? 'condition' : undefined;
    case 'conditional_expression':
      return p.node.child(2)?.startIndex === a.node.startIndex ? 'condition' : undefined;
    case 'not_operator':
    case 'boolean_operator':
      return 'condition';
    case 'assert_statement':
      return p.node.child(1)?.startIndex === a.node.startIndex ? 'condition' : undefined;
    default:
      return undefined;
  }
}
