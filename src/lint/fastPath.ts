/**
 * What the text alone proves, so that a statement need not be parsed at all: a task created by a
 * whole line that stores it on an attribute, returns, yields or awaits it is kept; and in a
 * function with no nested function, lambda or class, a task bound by a plain
 * `name = asyncio.create_task(...)` line is kept when the function also awaits, returns or yields
 * `name`, or adds it to an attribute's set or a module-level set. That is the common, correct way
 * to write it.
 *
 * Each condition is one the syntax-tree check would reach the same way (a keeping use of the
 * name anywhere in the function keeps the task), so skipping such a candidate never changes the
 * findings; the unit tests compare against the full check on the corpus and a large module.
 */

import type { ModuleContext } from './moduleContext';
import type { OutlineRange } from './outline';
import { escapeRegExp } from './syntax';

const SINGLE_FUNCTION = /^[ \t]*(?:@[^\n]*\n[ \t]*)*(?:async[ \t]+)?def[ \t]/;
const NESTED_SCOPE = /\b(?:def|lambda|class)\b/g;
/** `name = ` or `name: T = ` then a plain dotted prefix of the callee, up to the candidate's name. */
const BINDING = /^[ \t]*([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=[ \t]*(?:[A-Za-z_]\w*[ \t]*\.[ \t]*)*$/;
/** An attribute as the target, or `return` / `await` / `yield`, then a plain dotted prefix of the callee. */
const STORED_OR_HANDED_ON = /^[ \t]*(?:[A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)+[ \t]*(?::[^=\n]*)?=|(?:return|await|yield)\b)[ \t]*(?:[A-Za-z_]\w*[ \t]*\.[ \t]*)*$/;

export function isProvablyKept(text: string, unit: OutlineRange, offset: number, module: ModuleContext): boolean {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const prefix = text.slice(lineStart, offset);
  // `self.task = create_task(...)`, `return create_task(...)`, `await ...`, `yield ...`: the whole line.
  if (STORED_OR_HANDED_ON.test(prefix)) return callEndsLine(text, offset);
  const body = text.slice(unit.start, unit.end);
  if (!SINGLE_FUNCTION.test(body) || (body.match(NESTED_SCOPE)?.length ?? 0) !== 1) return false;
  const binding = BINDING.exec(prefix);
  if (!binding || binding[1] === '_' || !callEndsLine(text, offset)) return false;
  const name = escapeRegExp(binding[1]);
  // Blank out triple-quoted strings (docstrings); `inCode` rules out the rest of strings and comments.
  const code = body.replace(/("""|''')[\s\S]*?\1/g, (m) => m.replace(/[^\n]/g, ' '));
  const uses = (re: RegExp) => [...code.matchAll(re)].filter((m) => inCode(code, m.index ?? 0));
  if (uses(new RegExp(`\\b(?:await|return|yield)[ \\t]+${name}[ \\t]*(?:$|[)\\],;#])`, 'gm')).length) return true;
  const add = new RegExp(`(?<![\\w.])([A-Za-z_][\\w.]*)[ \\t]*\\.[ \\t]*add[ \\t]*\\([ \\t]*${name}[ \\t]*\\)`, 'g');
  for (const m of uses(add)) {
    const receiver = m[1];
    if (module.weakSets.has(receiver)) continue;
    if (receiver.includes('.')) return true;
    const r = escapeRegExp(receiver);
    const rebound = new RegExp(`(?<![\\w.])${r}[ \\t]*(?::[^=\\n]*)?=(?!=)|\\b(?:for|as|global|nonlocal)[ \\t]+${r}\\b`).test(body);
    const header = body.slice(0, body.search(/:[ \t]*(?:#[^\n]*)?\n/));
    if (module.moduleNames.has(receiver) && !rebound && !new RegExp(`\\b${r}\\b`).test(header)) return true;
  }
  return false;
}

/** True when nothing before `index` on its line could start a comment or a string. */
function inCode(text: string, index: number): boolean {
  return !/["'#]/.test(text.slice(text.lastIndexOf('\n', index - 1) + 1, index));
}

/** True when the call whose name starts at `offset` closes on the same line, with nothing after it but a comment. */
function callEndsLine(text: string, offset: number): boolean {
  let i = text.indexOf('(', offset);
  if (i < 0) return false;
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (--depth === 0) break;
    } else if (c === '\n' || c === '"' || c === "'" || c === '\\' || c === '#') return false;
  }
  const lineEnd = text.indexOf('\n', i);
  return /^[ \t]*(?:#.*)?$/.test(text.slice(i + 1, lineEnd < 0 ? text.length : lineEnd).replace(/\r$/, ''));
}
