/**
 * TSK001 (dangling task) and TSK005 (background-task set that never discards).
 *
 * A task is created by `asyncio.create_task`, `asyncio.ensure_future`, `asyncio.Task(...)`
 * (through any import alias) or `<event loop>.create_task`. From the call, the check follows
 * where the task goes: up through the expression around it, into the names it is bound to and
 * every use of those names in the function. It is dropped when it ends discarded, bound to `_`
 * or to names never read (or read only to call methods on it), in a local container that never
 * leaves the function, in a WeakSet, or returned from a lambda given to a callback registrar.
 * Anything the check does not understand counts as kept: no false alarms on unusual code.
 *
 * TSK005 looks at `.add(task)` on a long-lived set (an attribute, or a module-level name not
 * rebound in the function) that the module never removes anything from.
 */

import type { ModuleContext } from '../moduleContext';
import { At, type Node, dottedName, escapeRegExp, lastSegment } from '../syntax';
import { type CallSite, CheckContext, callSiteAt } from './checkContext';

export const CREATORS = new Set(['asyncio.create_task', 'asyncio.ensure_future', 'asyncio.Task', 'asyncio.tasks.Task', 'asyncio.tasks.create_task', 'asyncio.tasks.ensure_future']);
/** Callee names a creation can be found by (aliases are added from the imports). */
export const CREATOR_NAMES = ['create_task', 'ensure_future', 'Task'];
const LOOP_FACTORIES = /(?:^|\.)(?:get_event_loop|get_running_loop|new_event_loop)$/;
export const LOOP_NAME = /^_*(?:event_?)?loop$|_loop$/i;
/** Calls that look at a value and keep no reference to it. */
const NON_RETAINING = new Set(['print', 'repr', 'str', 'len', 'id', 'hash', 'bool', 'type', 'isinstance', 'callable', 'weakref.ref', 'weakref.proxy', 'weakref.finalize']);
const WEAKSET = new Set(['weakref.WeakSet', 'WeakSet', 'weakref.WeakValueDictionary', 'WeakValueDictionary']);
/** Methods that put a value into a container. */
const FILL_METHODS = new Set(['add', 'append', 'appendleft', 'extend', 'extendleft', 'insert', 'put_nowait', 'setdefault', 'update']);
/** Callback registrars that ignore what the callback returns. */
const REGISTRARS = new Set(['call_soon', 'call_soon_threadsafe', 'call_later', 'call_at', 'add_signal_handler', 'add_reader', 'add_writer', 'add_done_callback']);

type Reason = 'discarded' | 'underscore' | 'unused' | 'methods' | 'local-container' | 'weakset' | 'lambda' | 'chained-method';
type Dropped = { kept: false; reason: Reason; detail?: string };
type Fate = { kept: true } | Dropped;
const KEPT: Fate = { kept: true };
const drop = (reason: Reason, detail?: string): Dropped => ({ kept: false, reason, detail });
const MAX_DEPTH = 4;

export function isTaskCreation(cc: CheckContext, call: CallSite): boolean {
  if (call.qualified && CREATORS.has(call.qualified)) return true;
  return call.name === 'create_task' && call.receiver !== undefined && isEventLoop(cc, call.receiver);
}

function isEventLoop(cc: CheckContext, node: Node): boolean {
  if (node.type === 'call') {
    const fn = node.firstChild;
    const d = fn ? dottedName(fn) : undefined;
    return d !== undefined && LOOP_FACTORIES.test(cc.resolve(d));
  }
  const d = dottedName(node);
  if (!d || cc.resolve(d) === 'asyncio') return false;
  return cc.module.loopNames.has(d) || LOOP_NAME.test(lastSegment(d));
}

export function checkTaskCreation(cc: CheckContext, call: CallSite): void {
  const fate = new TaskFlow(cc).valueFate(call.at, 0);
  if (fate.kept) return;
  const creator = call.dotted ?? call.name;
  cc.report('TSK001', call.at.node, `${describe(fate, creator)} The event loop keeps only a weak reference to a task, so it can be garbage-collected before it finishes. ${FIX}`);
}

const FIX = 'Await it, keep it in a set and discard it when done (`tasks.add(t)`, `t.add_done_callback(tasks.discard)`), or create it in a TaskGroup.';

function describe(fate: Dropped, creator: string): string {
  const d = fate.detail ? `\`${fate.detail}\`` : '';
  switch (fate.reason) {
    case 'discarded':
      return `Dangling task: the task from \`${creator}(...)\` is discarded.`;
    case 'underscore':
      return `Dangling task: the task from \`${creator}(...)\` is bound to \`_\`, which keeps nothing.`;
    case 'unused':
      return `Dangling task: the task from \`${creator}(...)\` is bound to ${d}, which is never used.`;
    case 'methods':
      return `Dangling task: the task from \`${creator}(...)\` is kept only in ${d}, which is used just to call methods on it.`;
    case 'chained-method':
      return `Dangling task: the task from \`${creator}(...)\` is only used to call \`.${fate.detail}()\` on it, then dropped.`;
    case 'local-container':
      return `Dangling task: the task from \`${creator}(...)\` is kept only in ${d}, a local container that never leaves the function.`;
    case 'weakset':
      return `Dangling task: the task from \`${creator}(...)\` is kept only in a WeakSet${d ? ` (${d})` : ''}, which does not keep it alive.`;
    case 'lambda':
      return `Dangling task: the task from \`${creator}(...)\` is returned from a lambda, and ${d} ignores what its callback returns.`;
  }
}

/** Follows one task value through the code of one unit. */
class TaskFlow {
  constructor(private readonly cc: CheckContext) {}

  /** Where the value of the expression at `a` ends up. */
  valueFate(a: At, depth: number): Fate {
    const p = a.up;
    if (!p) return KEPT;
    switch (p.type) {
      case 'parenthesized_expression':
      case 'list_splat':
      case 'conditional_expression':
      case 'boolean_operator':
      case 'expression_list':
      case 'tuple':
      case 'list':
      case 'set':
      case 'pair':
      case 'dictionary':
      case 'list_comprehension':
      case 'set_comprehension':
      case 'generator_expression':
      case 'dictionary_comprehension':
        if (p.type === 'generator_expression' && p.up?.type === 'call') return this.callFate(p.up, depth);
        return this.valueFate(p, depth);
      case 'expression_statement':
        return drop('discarded');
      case 'await':
      case 'return_statement':
      case 'yield':
        return KEPT;
      case 'argument_list':
        return p.up?.type === 'call' ? this.callFate(p.up, depth) : KEPT;
      case 'keyword_argument': {
        const list = p.up;
        if (a.isFirstChild || list?.type !== 'argument_list' || list.up?.type !== 'call') return KEPT;
        return this.callFate(list.up, depth);
      }
      case 'assignment':
        return this.assignmentFate(a, p, depth);
      case 'augmented_assignment':
        return a.isFirstChild ? KEPT : this.targetFate(this.firstChildAt(p), depth);
      case 'named_expression': {
        if (a.isFirstChild) return KEPT;
        const named = this.targetFate(this.firstChildAt(p), depth);
        if (named.kept) return KEPT;
        return this.valueFate(p, depth).kept ? KEPT : named;
      }
      case 'attribute': {
        const call = p.up;
        if (a.isFirstChild && call?.type === 'call' && p.isFirstChild) return drop('chained-method', p.node.lastChild?.text ?? undefined);
        return a.isFirstChild ? this.valueFate(p, depth) : KEPT;
      }
      case 'lambda':
        return a.node.endIndex === p.node.endIndex ? this.lambdaFate(p) : KEPT;
      case 'if_statement':
      case 'elif_clause':
      case 'while_statement':
      case 'not_operator':
      case 'comparison_operator':
      case 'assert_statement':
      case 'delete_statement':
        return drop('discarded');
      default:
        return KEPT;
    }
  }

  private firstChildAt(p: At): At {
    return new At([...p.path.slice(0, p.k + 1), p.node.firstChild!], p.k + 1);
  }

  /** `a = b = value`: kept when any target keeps it. */
  private assignmentFate(a: At, p: At, depth: number): Fate {
    if (a.node.endIndex !== p.node.endIndex || a.isFirstChild) return KEPT; // an annotation, or the target itself
    let top = p;
    const targets = [this.firstChildAt(p)];
    while (top.up?.type === 'assignment' && top.node.endIndex === top.up.node.endIndex) {
      top = top.up;
      targets.push(this.firstChildAt(top));
    }
    let first: Fate | undefined;
    for (const t of targets.reverse()) {
      const f = this.targetFate(t, depth);
      if (f.kept) return KEPT;
      first ??= f;
    }
    return first ?? KEPT;
  }

  /** What happens to a value stored into `target` (a name, attribute, subscript or pattern). */
  private targetFate(target: At, depth: number): Fate {
    const node = target.node;
    if (node.type === 'identifier') {
      const name = node.text;
      if (name === '_') return drop('underscore');
      return this.localNameFate(target, name, depth);
    }
    if (node.type === 'subscript') {
      const base = node.firstChild;
      const scope = this.cc.scope(target);
      if (base?.type === 'identifier' && scope.node && this.cc.names(scope)?.isLocal(base.text)) {
        if (depth >= MAX_DEPTH) return KEPT;
        const f = this.nameUsesFate(scope.node, base.text, depth + 1);
        return f.kept ? KEPT : drop('local-container', base.text);
      }
    }
    return KEPT;
  }

  /** A value bound to `name` where `at` is: kept unless `name` is a local of a function whose uses all drop it. */
  private localNameFate(at: At, name: string, depth: number): Fate {
    const scope = this.cc.scope(at);
    if (!scope.node || scope.kind === 'class' || scope.kind === 'module') return KEPT;
    if (depth >= MAX_DEPTH || this.cc.names(scope)?.isDeclaredOutside(name)) return KEPT;
    return this.nameUsesFate(scope.node, name, depth + 1);
  }

  /** Every use of `name` inside `scope`: kept when one of them keeps the value. */
  private nameUsesFate(scope: Node, name: string, depth: number): Fate {
    const text = this.cc.textOf(scope);
    const base = scope.startIndex;
    const re = new RegExp(`(?<![\\w.])${escapeRegExp(name)}(?!\\w)`, 'g');
    let dropped: Dropped = drop('unused', name);
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const use = this.cc.at(base + m.index);
      if (use.type !== 'identifier' || use.node.startIndex !== base + m.index) continue;
      const role = roleOf(use);
      if (role === 'outside') return KEPT;
      if (role !== 'read') continue;
      const f = this.valueFate(use, depth);
      if (f.kept) return KEPT;
      // The most telling reason wins: a container or WeakSet over "only methods" over "unused".
      if (f.reason === 'local-container' || f.reason === 'weakset') dropped = f;
      else if (f.reason === 'chained-method' && dropped.reason === 'unused') dropped = drop('methods', name);
    }
    return dropped;
  }

  /** The task is an argument of this call. */
  private callFate(call: At, depth: number): Fate {
    const fn = call.node.firstChild;
    const d = fn && dottedName(fn);
    if (!d || !fn) return KEPT;
    const q = this.cc.resolve(d);
    if (NON_RETAINING.has(q)) return drop('discarded');
    if (WEAKSET.has(q)) return drop('weakset');
    const method = lastSegment(d);
    // A done callback is held by the task itself: it keeps nothing alive that the task does not.
    if (fn.type === 'attribute' && method === 'add_done_callback') return drop('chained-method', method);
    if (fn.type !== 'attribute' || !FILL_METHODS.has(method)) return KEPT;
    const receiver = d.slice(0, d.length - method.length - 1);
    if (this.cc.module.weakSets.has(receiver)) return drop('weakset', receiver);
    if (!receiver.includes('.')) {
      const scope = this.cc.scope(call);
      const names = this.cc.names(scope);
      if (scope.node && names?.isLocal(receiver)) {
        if (depth >= MAX_DEPTH) return KEPT;
        const f = this.nameUsesFate(scope.node, receiver, depth + 1);
        return f.kept ? KEPT : drop('local-container', receiver);
      }
      if (names?.isParameter(receiver)) return KEPT;
    }
    return KEPT; // a long-lived container: an attribute, a global, a parameter
  }

  /** The task is what a lambda returns: dropped when the lambda goes to a registrar that ignores it. */
  private lambdaFate(lambda: At): Fate {
    const list = lambda.up;
    const call = list?.type === 'argument_list' ? list.up : undefined;
    const fn = call?.type === 'call' ? call.node.firstChild : undefined;
    const d = fn ? dottedName(fn) : undefined;
    if (!d) return KEPT;
    const name = lastSegment(d);
    if (REGISTRARS.has(name) || this.cc.resolve(d) === 'signal.signal') return drop('lambda', name);
    return KEPT;
  }
}

type Role = 'read' | 'binding' | 'ignore' | 'outside';

/** What an occurrence of a name is: read, (re)bound, not the variable at all, or declared global. */
function roleOf(use: At): Role {
  const p = use.up;
  if (!p) return 'ignore';
  switch (p.type) {
    case 'assignment':
    case 'named_expression':
      return use.isFirstChild ? 'binding' : 'read';
    case 'augmented_assignment':
      return use.isFirstChild ? 'outside' : 'read';
    case 'pattern_list':
    case 'tuple_pattern':
    case 'list_pattern':
    case 'as_pattern_target':
    case 'parameters':
    case 'lambda_parameters':
    case 'typed_parameter':
    case 'default_parameter':
    case 'typed_default_parameter':
    case 'list_splat_pattern':
    case 'dictionary_splat_pattern':
    case 'function_definition':
    case 'class_definition':
      return 'binding';
    case 'for_statement':
    case 'for_in_clause':
      return use.node.endIndex <= (p.node.childForFieldName('left')?.endIndex ?? -1) ? 'binding' : 'read';
    case 'keyword_argument':
      return use.isFirstChild ? 'ignore' : 'read';
    case 'attribute':
      return use.isFirstChild ? 'read' : 'ignore';
    case 'subscript': {
      // `name[key] = value` stores into the container named `name`: not a use of what it holds.
      const store = use.isFirstChild && p.isFirstChild && p.up?.type === 'assignment';
      return store ? 'binding' : 'read';
    }
    case 'global_statement':
    case 'nonlocal_statement':
      return 'outside';
    case 'delete_statement':
    case 'dotted_name':
    case 'aliased_import':
    case 'type':
      return 'ignore';
    default:
      return 'read';
  }
}

/** TSK005: `<long-lived set>.add(<task>)` where nothing ever removes from that set. */
export function checkTaskSetAdd(cc: CheckContext, call: CallSite): void {
  const d = call.dotted;
  if (!d || call.name !== 'add' || !call.receiver) return;
  const receiver = d.slice(0, d.length - '.add'.length);
  if (!isLongLivedSet(cc.module, receiver) || (!receiver.includes('.') && cc.shadowed(call.at, receiver))) return;
  const args = call.at.node.lastChild;
  const arg = args?.type === 'argument_list' && args.namedChildCount === 1 ? args.namedChild(0) : null;
  if (!arg || !isTask(cc, call.at, arg)) return;
  cc.report(
    'TSK005',
    call.at.node,
    `Background-task set \`${receiver}\` never discards: tasks are added to it but nothing removes them, so every finished task and its result stay in memory (a slow leak). Add \`task.add_done_callback(${receiver}.discard)\` next to the \`add\`.`,
  );
}

/** An attribute chain or a module-level name, neither a WeakSet nor ever emptied. */
export function isLongLivedSet(module: ModuleContext, receiver: string): boolean {
  return (receiver.includes('.') || module.moduleNames.has(receiver)) && !module.emptiedSets.has(receiver) && !module.weakSets.has(receiver);
}

/** A task creation, or a name the function binds to one. */
function isTask(cc: CheckContext, at: At, arg: Node): boolean {
  if (arg.type === 'call') {
    const fn = arg.firstChild;
    const inner = fn ? callSiteAt(cc, fn.type === 'attribute' ? fn.lastChild!.startIndex : fn.startIndex) : undefined;
    return inner !== undefined && inner.at.node.startIndex === arg.startIndex && isTaskCreation(cc, inner);
  }
  if (arg.type !== 'identifier') return false;
  const scope = cc.scope(at);
  const text = scope.node ? cc.textOf(scope.node) : '';
  return new RegExp(`(?<![\\w.])${escapeRegExp(arg.text)}[ \\t]*(?::[^=\\n]*)?=[ \\t]*[^\\n]*\\b(?:create_task|ensure_future|Task)[ \\t]*\\(`).test(text);
}
