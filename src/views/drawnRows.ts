/**
 * What the Tasks view has drawn: for each row whose children VS Code asked for, the children
 * it was given. After the model changes, `changes` compares that with what the arrangement
 * gives now and names the fewest rows to redraw: a row whose list of children changed, and a
 * folded or joined row whose own text changed (its count). Rows below an unchanged list are
 * compared in turn, so a change deep in the tree redraws only the row above it.
 *
 * This is how the arrangements in which a task's change can move it (by awaiter, where what
 * it waits on places it; with a filter or with finished tasks hidden, where it can leave or
 * enter the view) still redraw only what changed. VS Code redraws a refreshed row together
 * with everything below it, and a collapsed row keeps the children it had until refreshed, so
 * collapsed rows are compared too.
 *
 * It also tells which rows VS Code has at all (`isShown`): a changed row it was never given
 * (under a collapsed fold, say) need not be redrawn, and does not count towards the number of
 * rows past which the whole view is redrawn instead.
 *
 * Pure: no `vscode` import. Only what VS Code itself asked for must be recorded: a list
 * recorded for another caller would hide a change from the view.
 */

import type { ViewNode } from './arrangement';

/** The text of a row that can change while its id stays: folded and joined rows show a count. */
export function rowSignature(node: ViewNode): string {
  switch (node.kind) {
    case 'fold':
      return `${node.id}\u0000${node.taskIds.length}\u0000${node.coro}`;
    case 'join':
      return `${node.id}\u0000${node.taskIds.length}\u0000${node.label}`;
    default:
      return node.id;
  }
}

interface Given {
  /** The signatures of the children handed out, in order. */
  readonly signatures: string[];
  /** Their ids (a signature begins with the id, but the ids are compared on their own). */
  readonly ids: string[];
}

export interface RedrawPlan {
  /** Rows whose children changed: each is redrawn with everything below it. */
  readonly subtrees: ViewNode[];
  /** Rows whose own text changed while the rows around them stayed. */
  readonly rows: ViewNode[];
}

/** Deeper than any real tree; guards the walk against a cycle in what was recorded. */
const MAX_DEPTH = 1024;

export class DrawnRows {
  private readonly given = new Map<string, Given>();
  /** How many of the recorded lists hold each row id. */
  private readonly shown = new Map<string, number>();

  /** VS Code asked for the children of `parent` (the top when undefined) and got `children`. */
  record(parent: ViewNode | undefined, children: readonly ViewNode[]): void {
    const key = parent?.id ?? '';
    const old = this.given.get(key);
    const ids = children.map((c) => c.id);
    this.given.set(key, { ids, signatures: children.map(rowSignature) });
    for (const id of ids) this.shown.set(id, (this.shown.get(id) ?? 0) + 1);
    if (old) this.unshow(old.ids);
  }

  /** Whether VS Code was given this row (in a list it has not been told to fetch again). */
  isShown(id: string): boolean {
    return this.shown.has(id);
  }

  /** The row is redrawn (VS Code asks again for what is below it, if it shows that). */
  forget(node: ViewNode): void {
    this.forgetBelow(node.id, 0);
  }

  /** The whole view is redrawn: VS Code will ask again for what it shows. */
  clear(): void {
    this.given.clear();
    this.shown.clear();
  }

  /** How many rows have their children recorded (for tests). */
  get size(): number {
    return this.given.size;
  }

  /**
   * Compares what was drawn below `start` with what `children` gives now. The rows named are
   * forgotten below them (VS Code asks again for what it shows after redrawing them).
   */
  changes(start: ViewNode, children: (node: ViewNode) => ViewNode[]): RedrawPlan {
    const subtrees: ViewNode[] = [];
    const rows: ViewNode[] = [];
    const walk = (node: ViewNode, depth: number): void => {
      const drawn = this.given.get(node.id);
      if (!drawn || depth > MAX_DEPTH) return;
      const now = children(node);
      if (now.length !== drawn.ids.length || now.some((c, i) => c.id !== drawn.ids[i])) {
        subtrees.push(node);
        this.forgetBelow(node.id, 0);
        return;
      }
      now.forEach((child, i) => {
        const signature = rowSignature(child);
        if (signature === drawn.signatures[i]) {
          walk(child, depth + 1);
        } else {
          rows.push(child);
          drawn.signatures[i] = signature;
          this.forgetBelow(child.id, 0);
        }
      });
    };
    walk(start, 0);
    return { subtrees, rows };
  }

  /** Forgets the lists recorded below a row (its own included). */
  private forgetBelow(id: string, depth: number): void {
    const drawn = this.given.get(id);
    if (!drawn) return;
    this.given.delete(id);
    this.unshow(drawn.ids);
    if (depth < MAX_DEPTH) for (const child of drawn.ids) this.forgetBelow(child, depth + 1);
  }

  private unshow(ids: readonly string[]): void {
    for (const id of ids) {
      const count = this.shown.get(id) ?? 0;
      if (count <= 1) this.shown.delete(id);
      else this.shown.set(id, count - 1);
    }
  }
}
