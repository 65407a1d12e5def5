/**
 * Quick fixes, as text edits (pure: no `vscode`). Each leaves code that the linter accepts.
 *   TSK001 "Await the task" (in an async function): `await asyncio.create_task(...)`.
 *   TSK001 "Keep a reference in a module-level background-task set": the task goes into
 *          `_background_tasks` (created once per module, after the imports) and discards itself
 *          from it when done.
 *   TSK002 "Add await" (in an async function).
 */

import type { Finding } from './rules';
import { At, type Node, pathTo, scopeOf } from './syntax';

export interface TextEdit {
  /** Offsets (UTF-16) into the text the finding was made on. */
  readonly start: number;
  readonly end: number;
  readonly newText: string;
}

export interface Fix {
  readonly title: string;
  readonly edits: readonly TextEdit[];
  readonly isPreferred?: boolean;
}

export const TASK_SET = '_background_tasks';
const TASK_SET_BINDING = new RegExp(`^${TASK_SET}[ \\t]*(?::[^=\\n]*)?=`, 'm');
/** Nodes a call cannot be hoisted out of: they run it later, maybe never, or in a scope of their own. */
const NOT_HOISTABLE = new Set(['lambda', 'list_comprehension', 'set_comprehension', 'generator_expression', 'dictionary_comprehension', 'conditional_expression', 'boolean_operator', 'function_definition', 'class_definition']);

export function fixesFor(root: Node, text: string, finding: Finding): Fix[] {
  if (finding.code !== 'TSK001' && finding.code !== 'TSK002') return [];
  const path = pathTo(root, finding.start);
  const k = path.findIndex((n) => n.type === 'call' && n.startIndex === finding.start && n.endIndex === finding.end);
  if (k < 0) return [];
  const call = new At(path, k);
  const inAsync = scopeOf(call, 'module').isAsync;
  const fixes: Fix[] = [];
  if (finding.code === 'TSK002') {
    if (inAsync) fixes.push({ title: 'Add `await`', edits: [{ start: finding.start, end: finding.start, newText: 'await ' }], isPreferred: true });
    return fixes;
  }
  if (inAsync && isAwaitable(call)) {
    fixes.push({ title: 'Await the task', edits: [{ start: finding.start, end: finding.start, newText: 'await ' }] });
  }
  const keep = keepReference(root, text, call);
  if (keep) fixes.push(keep);
  return fixes;
}

/** True when the call's value goes straight into a statement or an assignment, where `await` reads naturally. */
function isAwaitable(call: At): boolean {
  let a = call;
  while (a.up?.type === 'parenthesized_expression') a = a.up;
  const p = a.up;
  return p?.type === 'expression_statement' || (p?.type === 'assignment' && !a.isFirstChild);
}

function keepReference(root: Node, text: string, call: At): Fix | undefined {
  // The statement the call is in, with nothing between them that runs it later or elsewhere.
  let k = call.k;
  while (k > 0 && call.path[k].type !== 'expression_statement') {
    if (NOT_HOISTABLE.has(call.path[k - 1].type)) return undefined;
    k--;
  }
  const statement = call.path[k];
  if (statement.type !== 'expression_statement') return undefined;
  const lineStart = text.lastIndexOf('\n', statement.startIndex - 1) + 1;
  const indent = text.slice(lineStart, statement.startIndex);
  if (!/^[ \t]*$/.test(indent)) return undefined; // `if x: statement` on one line
  const edits: TextEdit[] = [];
  const setEdit = taskSetEdit(root, text);
  if (setEdit) edits.push(setEdit);
  const callNode = call.node;
  const keep = (name: string) => `${TASK_SET}.add(${name})\n${indent}${name}.add_done_callback(${TASK_SET}.discard)`;
  const assignment = statement.firstChild;
  const target = assignment?.type === 'assignment' ? assignment.firstChild : null;
  const value = assignment?.type === 'assignment' ? assignment.lastChild : null;
  if (target?.type === 'identifier' && target.text !== '_' && value && value.startIndex === callNode.startIndex && value.endIndex === callNode.endIndex) {
    // `name = create_task(...)`: keep `name` right after.
    edits.push({ start: statement.endIndex, end: statement.endIndex, newText: `\n${indent}${keep(target.text)}` });
  } else {
    // Anything else: create the task first, under a fresh name, then use the name where the call was.
    const name = freshName(text);
    const bare = statement.startIndex === outermostParens(call).startIndex && statement.endIndex === outermostParens(call).endIndex;
    const rest = bare
      ? ''
      : `\n${indent}${text.slice(statement.startIndex, callNode.startIndex)}${name}${text.slice(callNode.endIndex, statement.endIndex)}`;
    edits.push({ start: statement.startIndex, end: statement.endIndex, newText: `${name} = ${callNode.text}\n${indent}${keep(name)}${rest}` });
  }
  return { title: `Keep a reference in the module-level set \`${TASK_SET}\``, edits, isPreferred: true };
}

function outermostParens(call: At): Node {
  let a = call;
  while (a.up?.type === 'parenthesized_expression') a = a.up;
  return a.node;
}

/** `task`, or `task_2`, ...: a name the module does not use yet. */
function freshName(text: string): string {
  for (let i = 1; ; i++) {
    const name = i === 1 ? 'task' : `task_${i}`;
    if (!new RegExp(`(?<![\\w.])${name}(?!\\w)`).test(text)) return name;
  }
}

/** Creates `_background_tasks = set()` after the module's leading imports, unless it exists. */
function taskSetEdit(root: Node, text: string): TextEdit | undefined {
  if (TASK_SET_BINDING.test(text)) return undefined;
  let after: Node | undefined;
  for (const child of root.children) {
    if (!child) continue;
    const type = child.type;
    if (type === 'import_statement' || type === 'import_from_statement' || type === 'future_import_statement') after = child;
    else if (type === 'comment') continue;
    else if (type === 'expression_statement' && !after && child.firstChild?.type === 'string') after = child;
    else break;
  }
  const line = `${TASK_SET} = set()  # strong references to running background tasks; each discards itself when done`;
  if (!after) return { start: 0, end: 0, newText: `${line}\n\n` };
  return { start: after.endIndex, end: after.endIndex, newText: `\n\n${line}` };
}

/** The text with the edits applied (edits must not overlap). */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start || b.end - a.end)) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}
