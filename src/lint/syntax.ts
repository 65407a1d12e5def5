/**
 * Small helpers over tree-sitter's Python tree. Every call into tree-sitter crosses into
 * WebAssembly, so the checks walk down from a top-level statement to the node at an offset once
 * (a path) and then move up and down that array instead of asking nodes for their parents.
 */

import type { Node } from 'web-tree-sitter';

export type { Node };

/** The nodes from `top` down to the smallest one that starts at or spans `index`. */
export function pathTo(top: Node, index: number): Node[] {
  const path = [top];
  let node = top;
  for (;;) {
    const child = node.firstChildForIndex(index);
    if (!child || child.startIndex > index) return path;
    path.push(child);
    node = child;
  }
}

/** A node on a path, with its ancestors a step away. */
export class At {
  constructor(
    readonly path: readonly Node[],
    readonly k: number,
  ) {}

  get node(): Node {
    return this.path[this.k];
  }

  get type(): string {
    return this.path[this.k].type;
  }

  /** The parent, or undefined above the top of the path. */
  get up(): At | undefined {
    return this.k > 0 ? new At(this.path, this.k - 1) : undefined;
  }

  /** The ancestor `n` steps up. */
  ancestor(n: number): At | undefined {
    return this.k - n >= 0 ? new At(this.path, this.k - n) : undefined;
  }

  /** True when this node is the first child of its parent (the `function` of a call, the `left` of an assignment, the `object` of an attribute). */
  get isFirstChild(): boolean {
    return this.k > 0 && this.path[this.k - 1].startIndex === this.node.startIndex && this.path[this.k - 1].type !== 'parenthesized_expression';
  }
}

export type ScopeKind = 'module' | 'class' | 'function' | 'lambda';

export interface Scope {
  readonly kind: ScopeKind;
  /** The function or lambda node (module and class scopes have none on the path). */
  readonly node?: Node;
  readonly isAsync: boolean;
}

/**
 * The innermost scope around `at`: a def, a lambda or a class on the path; above the top of
 * the path, `outer` (the scope the top-level statement sits in).
 */
export function scopeOf(at: At, outer: ScopeKind): Scope {
  for (let k = at.k - 1; k >= 0; k--) {
    const n = at.path[k];
    switch (n.type) {
      case 'function_definition':
        return { kind: 'function', node: n, isAsync: n.firstChild?.type === 'async' };
      case 'lambda':
        return { kind: 'lambda', node: n, isAsync: false };
      case 'class_definition':
        return { kind: 'class', node: n, isAsync: false };
    }
  }
  return { kind: outer, isAsync: false };
}

/** `a.b.c` for names and attribute chains (whitespace removed), else undefined. */
export function dottedName(node: Node): string | undefined {
  const type = node.type;
  if (type !== 'identifier' && type !== 'attribute') return undefined;
  const text = node.text.replace(/\s+/g, '');
  return /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$/.test(text) ? text : undefined;
}

export function lastSegment(dotted: string): string {
  const i = dotted.lastIndexOf('.');
  return i < 0 ? dotted : dotted.slice(i + 1);
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Offsets of line starts, for turning offsets into line and column. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  get lineCount(): number {
    return this.starts.length;
  }

  /** 0-based line and column (UTF-16) of an offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, column: offset - this.starts[lo] };
  }
}
