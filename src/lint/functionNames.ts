/**
 * The names a function binds, read once from its text: parameters, names it assigns (or binds
 * with `for`, `as`, `:=`), and names it declares `global` or `nonlocal`. Enough to tell a local
 * from a module-level name of the same spelling; nested functions' names count as the outer
 * function's, which errs towards "local" and so towards fewer findings.
 */

import type { Node } from './syntax';

const PARAM = /(?:^|[(,])\s*\**([A-Za-z_]\w*)/g;
const DECLARED = /\b(?:global|nonlocal)\b([^\n;]*)/g;
const ASSIGNED = /(?:^|[^\w.])([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)/gm;
const BOUND = /\bfor[ \t]+([A-Za-z_]\w*)|\bas[ \t]+([A-Za-z_]\w*)|([A-Za-z_]\w*)[ \t]*:=/g;

export class FunctionNames {
  readonly text: string;
  private readonly params = new Set<string>();
  private readonly declared = new Set<string>();
  private readonly assigned = new Set<string>();

  constructor(fn: Node, text: string) {
    this.text = text;
    const params = fn.childForFieldName('parameters')?.text ?? '';
    for (const m of params.matchAll(PARAM)) this.params.add(m[1]);
    for (const m of this.text.matchAll(DECLARED)) for (const n of m[1].split(',')) this.declared.add(n.trim());
    for (const m of this.text.matchAll(ASSIGNED)) {
      // `f(name=value)` is a keyword argument, not an assignment.
      let i = (m.index ?? 0) + m[0].indexOf(m[1]) - 1;
      while (i >= 0 && (this.text[i] === ' ' || this.text[i] === '\t')) i--;
      if (this.text[i] !== '(' && this.text[i] !== ',') this.assigned.add(m[1]);
    }
    for (const m of this.text.matchAll(BOUND)) this.assigned.add(m[1] ?? m[2] ?? m[3]);
  }

  isParameter(name: string): boolean {
    return this.params.has(name);
  }

  /** `global name` or `nonlocal name`. */
  isDeclaredOutside(name: string): boolean {
    return this.declared.has(name);
  }

  /** Bound by the function itself, not a parameter or a global. */
  isLocal(name: string): boolean {
    return !this.params.has(name) && !this.declared.has(name) && this.assigned.has(name);
  }

  /** A parameter or a local: not the module-level thing of that name. */
  shadows(name: string): boolean {
    return this.params.has(name) || this.isLocal(name);
  }
}
