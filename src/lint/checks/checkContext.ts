/**
 * What every check is handed: the text, the module's facts, the top-level statement being
 * checked (a "unit"), and a call site found in it.
 */

import { FunctionNames } from '../functionNames';
import type { ModuleContext } from '../moduleContext';
import { resolveName } from '../moduleContext';
import type { RuleCode } from '../rules';
import { At, type Node, type ScopeKind, dottedName, pathTo, scopeOf, type Scope } from '../syntax';

/** A finding before severities, suppressions and line numbers: offsets into the text. */
export interface RawFinding {
  readonly code: RuleCode;
  readonly start: number;
  readonly end: number;
  readonly message: string;
}

/** A top-level statement (or a statement of a class body), checked on its own and cached as a whole. */
export interface Unit {
  readonly node: Node;
  /** The scope the statement sits in. */
  readonly outer: ScopeKind;
}

export class CheckContext {
  readonly findings: RawFinding[] = [];
  private readonly functionNames = new Map<number, FunctionNames>();

  constructor(
    readonly text: string,
    readonly module: ModuleContext,
    readonly unit: Unit,
  ) {}

  report(code: RuleCode, node: Node, message: string): void {
    this.findings.push({ code, start: node.startIndex, end: node.endIndex, message });
  }

  /** The path from the unit down to the node at `index`, with `at` on its last node. */
  at(index: number): At {
    const path = pathTo(this.unit.node, index);
    return new At(path, path.length - 1);
  }

  scope(at: At): Scope {
    return scopeOf(at, this.unit.outer);
  }

  /** The names the function (or lambda) binds; undefined for module and class scopes. */
  names(scope: Scope): FunctionNames | undefined {
    if (!scope.node || scope.kind === 'class' || scope.kind === 'module') return undefined;
    let names = this.functionNames.get(scope.node.startIndex);
    if (!names) this.functionNames.set(scope.node.startIndex, (names = new FunctionNames(scope.node, this.textOf(scope.node))));
    return names;
  }

  /** True when `name` is, where `at` is, a parameter or local of the enclosing function. */
  shadowed(at: At, name: string): boolean {
    return this.names(this.scope(at))?.shadows(name) ?? false;
  }

  /** The source of a node (cheaper than `node.text` for large nodes). */
  textOf(node: Node): string {
    return this.text.slice(node.startIndex, node.endIndex);
  }

  resolve(dotted: string): string {
    return resolveName(this.module, dotted);
  }
}

/** A call whose callee is a name or an attribute chain, found by the callee's last name. */
export interface CallSite {
  /** The `call` node. */
  readonly at: At;
  /** The callee as written, e.g. `aio.create_task` or `self.loop.create_task`. */
  readonly dotted?: string;
  /** The callee through the imports, e.g. `asyncio.create_task`. */
  readonly qualified?: string;
  /** The last name of the callee. */
  readonly name: string;
  /** For `x.name(...)`: the node of `x`. */
  readonly receiver?: Node;
}

/**
 * The call whose callee ends with the identifier at `index`, or undefined when that identifier
 * is not the callee's last name (`f(x)` found at `x`, a name in a string, ...).
 */
export function callSiteAt(cc: CheckContext, index: number): CallSite | undefined {
  const leaf = cc.at(index);
  if (leaf.type !== 'identifier' || leaf.node.startIndex !== index) return undefined;
  const parent = leaf.up;
  if (!parent) return undefined;
  let callee: At;
  let receiver: Node | undefined;
  if (parent.type === 'call') {
    if (!leaf.isFirstChild) return undefined;
    callee = leaf;
  } else if (parent.type === 'attribute' && !leaf.isFirstChild) {
    callee = parent;
    receiver = parent.node.firstChild ?? undefined;
  } else {
    return undefined;
  }
  const call = callee.up;
  if (!call || call.type !== 'call' || !callee.isFirstChild) return undefined;
  const name = leaf.node.text;
  const dotted = dottedName(callee.node);
  return { at: call, dotted, qualified: dotted && cc.resolve(dotted), name, receiver };
}

