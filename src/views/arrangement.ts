/**
 * How the Tasks view arranges a process's tasks: by creator (who created whom), by awaiter
 * (who waits on whom, with gathers and TaskGroups as nodes of their own), or flat. Siblings
 * that share a creation site fold into one row past a threshold, so 100k tasks stay readable;
 * a fold of more tasks than a part holds opens onto parts of it (tasks 1–1000, 1001–2000, …,
 * oldest first), as the debugger shows a long array in ranges, so that VS Code is never handed
 * 100k rows at once.
 * A filter keeps matching tasks and the path to them; finished tasks can be hidden (their
 * live children move up to the nearest shown ancestor).
 *
 * Pure: no `vscode` import. The tree provider renders the nodes; this module decides them.
 * It hands out one node object per id, so the view can tell rows apart by identity.
 *
 * By awaiter, a task that several tasks wait on appears under each of them. Its first place
 * (under the task that `parentOf` names: the first that waits on it, else the owner of its
 * TaskGroup; at the top when none) keeps the task's own id, `process/task`, as in the other
 * arrangements. Every other place gets an id made from the row above it
 * (`<row above>>task`), and so do the rows below that place (`scope`): VS Code requires
 * every id to be unique, and these stay the same from one update to the next.
 */

import type { TaskModel } from '../model/taskModel';
import type { TaskRecord, WaitKind } from '../protocol/messages';
import { creationFrame } from './taskText';

export type Arrangement = 'creator' | 'awaiter' | 'flat';
export const ARRANGEMENTS: readonly Arrangement[] = ['creator', 'awaiter', 'flat'];

export interface ProcessNode {
  readonly kind: 'process';
  readonly id: string;
  readonly processKey: string;
}

export interface LoopNode {
  readonly kind: 'loop';
  readonly id: string;
  readonly processKey: string;
  readonly loopId: string;
}

/** What rows shown again below another waiter carry (awaiter arrangement; see the module comment). */
interface Placement {
  /** The prefix of the ids of the rows below; absent (or '') under a task's first place. */
  readonly scope?: string;
  /** The row above: fixed by the id for rows in a scope. */
  readonly via?: ViewNode;
  /** The tasks on the way down to this row, its own included (rows in a scope only). */
  path?: readonly string[];
}

export interface TaskNode extends Placement {
  readonly kind: 'task';
  readonly id: string;
  readonly processKey: string;
  readonly taskId: string;
  /** Another place of a task that more than one task waits on (by awaiter). */
  readonly alias?: boolean;
  /** The task waits on itself through the tasks above it (a deadlock): shown without children. */
  cycle?: boolean;
}

/**
 * Siblings with the same creation site and coroutine, folded into one row; or a part of such a
 * row (`offset` set), when it holds more tasks than a part.
 */
export interface FoldNode extends Placement {
  readonly kind: 'fold';
  readonly id: string;
  readonly processKey: string;
  /** The task the row is under (by awaiter: what decides whether a task's place here is its first). */
  readonly anchor: string | null;
  /** Where they were created: `file:line`, or '' when unknown. */
  readonly siteKey: string;
  /** The library's function that made them, when no frame of the program's was on the stack (`creationFrame`). */
  readonly madeBy?: string;
  coro: string;
  taskIds: string[];
  /** A part of a fold: how many of the fold's tasks come before its own (fixed by its id). */
  readonly offset?: number;
  /** A part of a fold: how many tasks its parts hold together. */
  total?: number;
}

/** In the awaiter arrangement: a gather, wait() or TaskGroup that a task waits on. */
export interface JoinNode extends Placement {
  readonly kind: 'join';
  readonly id: string;
  readonly processKey: string;
  readonly waitKind: WaitKind | 'group';
  /** The task that waits on it (none for a TaskGroup whose owner is not waiting). */
  readonly waiterId: string | null;
  label: string;
  taskIds: string[];
}

export type ViewNode = ProcessNode | LoopNode | TaskNode | FoldNode | JoinNode;

export interface ArrangeOptions {
  arrangement: Arrangement;
  /** Hide done, cancelled and failed tasks. */
  hideFinished: boolean;
  /** Case-insensitive text matched against name, coroutine and creation file; '' for none. */
  filter: string;
  /** Fold siblings that share a creation site when there are at least this many (0: never). */
  foldThreshold: number;
  /** A fold of more tasks than this opens onto parts of this many (0: never). */
  foldPartSize: number;
}

/** How many tasks a part of a large fold holds: rows VS Code draws at once without a pause. */
export const FOLD_PART_SIZE = 1000;

export const DEFAULT_OPTIONS: ArrangeOptions = { arrangement: 'creator', hideFinished: false, filter: '', foldThreshold: 10, foldPartSize: FOLD_PART_SIZE };

const FINISHED = new Set(['done', 'cancelled', 'failed']);
const JOIN_KINDS = new Set<WaitKind>(['gather', 'taskgroup', 'wait']);

export function isFinished(task: TaskRecord): boolean {
  return FINISHED.has(task.state);
}

/**
 * Where a task was made, as a key: `file:line` of its site; for a task a library made
 * (`creationFrame`), `file#function` of the library's frame (the agent reads the exact line of
 * a library's frame on some routes only, and the same creation must fold together); '' when
 * unknown.
 */
export function siteKey(task: TaskRecord): string {
  const made = creationFrame(task);
  if (!made) return '';
  return made.library ? `${made.frame.file}#${made.frame.function}` : `${made.frame.file}:${made.frame.line}`;
}

function madeBy(task: TaskRecord): string | undefined {
  const made = creationFrame(task);
  return made?.library ? made.frame.function : undefined;
}

/** What folds siblings together: the creation site and the coroutine. */
function foldKey(task: TaskRecord): string {
  return `${siteKey(task)}|${task.coro}`;
}

/** Per-process facts that cost a pass over all tasks; rebuilt only after the process changes. */
interface ProcessIndex {
  /** Tasks that match the filter, and every ancestor of one (in the current arrangement). */
  visible?: Set<string>;
  /** Awaiter arrangement: task → the task that waits on it. */
  awaiter?: Map<string, string>;
  /** Awaiter arrangement: TaskGroup id → its tasks that nobody awaits. */
  groups?: Map<string, string[]>;
  /** Awaiter arrangement: TaskGroup id → the known task that owns it (created its tasks). */
  owners?: Map<string, string>;
  /**
   * Awaiter arrangement: task → the task it is first shown under (its first waiter, else its
   * TaskGroup's owner); without one it is at the top. Never a cycle.
   */
  parentOf?: Map<string, string>;
}

export class TaskArrangement {
  /** Every row handed out but the tasks' own rows, by id. */
  private readonly nodes = new Map<string, ViewNode>();
  /** Each task's own row by process, then task: found without making its id (100k rows cost). */
  private readonly ownRows = new Map<string, Map<string, TaskNode>>();
  /** `process/task` → ids of the task's rows at other places (by awaiter). */
  private readonly placements = new Map<string, Set<string>>();
  private readonly indexes = new Map<string, ProcessIndex>();
  private options: ArrangeOptions = { ...DEFAULT_OPTIONS };

  constructor(private readonly model: TaskModel) {}

  get current(): Readonly<ArrangeOptions> {
    return this.options;
  }

  /** Changes how tasks are arranged; the caller refreshes the whole view. */
  configure(options: Partial<ArrangeOptions>): void {
    this.options = { ...this.options, ...options, filter: (options.filter ?? this.options.filter).trim() };
    this.invalidate();
    // Rows placed by the awaiter arrangement belong to it (their ids say where they are).
    for (const [id, node] of this.nodes) if (isPlaced(node)) this.forgetNode(id, node);
  }

  /** Forgets derived facts of one process (or all) after the model changed. */
  invalidate(processKey?: string): void {
    if (processKey === undefined) this.indexes.clear();
    else this.indexes.delete(processKey);
  }

  /** Forgets the row objects of one process (it went away, or was replaced by a snapshot). */
  forget(processKey: string): void {
    for (const [id, node] of this.nodes) if (node.processKey === processKey && node.kind !== 'process') this.nodes.delete(id);
    for (const key of this.placements.keys()) if (key.startsWith(`${processKey}/`)) this.placements.delete(key);
    this.indexes.delete(processKey);
    this.ownRows.delete(processKey);
  }

  /** Forgets the rows of one task the agent no longer reports (each of its places). */
  forgetTask(processKey: string, taskId: string): void {
    const key = `${processKey}/${taskId}`;
    this.ownRows.get(processKey)?.delete(taskId);
    for (const id of this.placements.get(key) ?? []) this.nodes.delete(id);
    this.placements.delete(key);
  }

  /** Every row handed out for a task: its own, and its other places by awaiter. */
  rowsOf(processKey: string, taskId: string): TaskNode[] {
    const key = `${processKey}/${taskId}`;
    const rows: TaskNode[] = [this.taskNode(processKey, taskId)];
    for (const id of this.placements.get(key) ?? []) {
      const node = this.nodes.get(id);
      if (node?.kind === 'task') rows.push(node);
    }
    return rows;
  }

  processNode(processKey: string): ProcessNode {
    return this.node(processKey, () => ({ kind: 'process', id: processKey, processKey }));
  }

  taskNode(processKey: string, taskId: string): TaskNode {
    let rows = this.ownRows.get(processKey);
    if (!rows) this.ownRows.set(processKey, (rows = new Map()));
    let row = rows.get(taskId);
    if (!row) rows.set(taskId, (row = { kind: 'task', id: `${processKey}/${taskId}`, processKey, taskId }));
    return row;
  }

  /** The rows under `node` (the processes when none). */
  children(node?: ViewNode): ViewNode[] {
    if (!node) return this.model.processes().map((p) => this.processNode(p.key));
    switch (node.kind) {
      case 'process': {
        const loops = this.model.loops(node.processKey);
        if (loops.length > 1) {
          return loops.map((l) => {
            const id = `${node.processKey}#${l.id}`;
            return this.node(id, () => ({ kind: 'loop', id, processKey: node.processKey, loopId: l.id }));
          });
        }
        return this.fold(node, this.topLevel(node.processKey, undefined));
      }
      case 'loop':
        return this.fold(node, this.topLevel(node.processKey, node.loopId));
      case 'task':
        return node.cycle ? [] : this.fold(node, this.taskChildren(node));
      case 'fold': {
        const ids = this.foldedTasks(node);
        const size = this.options.foldPartSize;
        if (node.offset === undefined && size > 0 && ids.length > size) return this.parts(node, ids, size);
        const rows: ViewNode[] = new Array(ids.length);
        for (let i = 0; i < ids.length; i++) rows[i] = this.place(node, ids[i]);
        return rows;
      }
      case 'join':
        return this.fold(node, this.shown(node.processKey, this.tasks(node.processKey, node.taskIds)));
    }
  }

  /** The row above `node` in the current arrangement, for reveal. */
  parent(node: ViewNode): ViewNode | undefined {
    if (node.kind === 'process') return undefined;
    const processRow = this.processNode(node.processKey);
    if (node.kind === 'loop') return processRow;
    if (node.via) return node.via;
    const above = this.findParent(node);
    return above ?? processRow;
  }

  /** The number of tasks a row stands for (the tasks folded into it, or into its part of a fold). */
  countOf(node: FoldNode | JoinNode): number {
    return node.taskIds.length;
  }

  private findParent(node: ViewNode): ViewNode | undefined {
    // Walk down from the process: rows are few levels deep, and this runs only for reveal.
    const chain = node.kind === 'task' ? this.chainOf(node) : undefined;
    const search = (from: ViewNode, depth: number): ViewNode | undefined => {
      if (depth > 64) return undefined;
      for (const child of this.children(from)) {
        if (child === node) return from;
        // A fold (or a part of one) leads to a task only if it holds the task or one above it:
        // `children` just brought its tasks up to date. Of a fold's 100 parts, one is searched.
        if (child.kind === 'fold' && chain && !child.taskIds.some((id) => chain.has(id))) continue;
        if (child.kind !== 'task' || this.isAncestorCandidate(child, node)) {
          const found = search(child, depth + 1);
          if (found) return found;
        }
      }
      return undefined;
    };
    return search(this.processNode(node.processKey), 0);
  }

  /**
   * The task of a row at its first place and the tasks its place is below (its creators by
   * creator; the first places above it by awaiter): a fold that holds none of them does not
   * lead to it.
   */
  private chainOf(row: TaskNode): Set<string> {
    const chain = new Set<string>([row.taskId]);
    switch (this.options.arrangement) {
      case 'creator': {
        let task = this.model.task(row.processKey, row.taskId);
        for (let i = 0; task?.parent && i < 256; i++) {
          chain.add(task.parent);
          task = this.model.task(row.processKey, task.parent);
        }
        break;
      }
      case 'awaiter':
        for (const id of this.pathOf(row)) chain.add(id);
        break;
      case 'flat':
        break;
    }
    return chain;
  }

  private isAncestorCandidate(row: TaskNode, target: ViewNode): boolean {
    if (target.kind !== 'task' || this.options.arrangement !== 'creator') return true;
    // In the creator arrangement only the creator chain can lead to the target.
    let task = this.model.task(target.processKey, target.taskId);
    for (let i = 0; task && i < 256; i++) {
      if (task.parent === row.taskId) return true;
      task = task.parent ? this.model.task(target.processKey, task.parent) : undefined;
    }
    return false;
  }

  /** Top-level tasks of a process (or of one of its loops). */
  private topLevel(processKey: string, loopId: string | undefined): TaskRecord[] {
    let tasks: TaskRecord[];
    switch (this.options.arrangement) {
      case 'flat':
        tasks = this.allTasks(processKey);
        break;
      case 'creator':
        tasks = this.model.children(processKey, null);
        break;
      case 'awaiter': {
        const parentOf = this.awaiterIndex(processKey).parentOf!;
        tasks = this.allTasks(processKey).filter((t) => !parentOf.has(t.id));
        break;
      }
    }
    if (loopId !== undefined) tasks = tasks.filter((t) => t.loop === loopId);
    return this.options.arrangement === 'flat' ? tasks.filter((t) => this.passes(t)) : this.shown(processKey, tasks);
  }

  private taskChildren(node: TaskNode): (TaskRecord | JoinNode)[] {
    switch (this.options.arrangement) {
      case 'flat':
        return [];
      case 'creator':
        return this.shown(node.processKey, this.model.children(node.processKey, node.taskId));
      case 'awaiter':
        return this.awaitedBy(node);
    }
  }

  /** Awaiter arrangement: what the row's task waits on, gathers and TaskGroups as nodes of their own. */
  private awaitedBy(row: TaskNode): (TaskRecord | JoinNode)[] {
    const { processKey, taskId } = row;
    const task = this.model.task(processKey, taskId);
    const out: (TaskRecord | JoinNode)[] = [];
    const target = task?.waitingOn;
    if (task && target?.tasks?.length) {
      if (JOIN_KINDS.has(target.kind)) {
        const join = this.joinNode(row, `~${target.kind}`, target.kind);
        join.label = target.label ?? target.kind;
        join.taskIds = [...target.tasks];
        out.push(join);
      } else {
        out.push(...this.shown(processKey, this.tasks(processKey, target.tasks)));
      }
    }
    // TaskGroups this task owns (it created their tasks) that it is not waiting on right now.
    const index = this.awaiterIndex(processKey);
    for (const [groupId, members] of index.groups!) {
      if (index.owners!.get(groupId) !== taskId) continue;
      if (target?.kind === 'taskgroup' && members.every((m) => target.tasks?.includes(m))) continue;
      const join = this.joinNode(row, `~group:${groupId}`, 'group');
      join.label = 'TaskGroup';
      join.taskIds = members;
      out.push(join);
    }
    return out;
  }

  /** The row of a gather, wait() or TaskGroup under a task's row; its id is made from the row's. */
  private joinNode(row: TaskNode, suffix: string, waitKind: WaitKind | 'group'): JoinNode {
    const id = `${row.id}${suffix}`;
    const scoped = row.scope ? { scope: row.scope, via: row } : {};
    const join = this.node<JoinNode>(id, () => ({ kind: 'join', id, processKey: row.processKey, waitKind, waiterId: row.taskId, label: '', taskIds: [], ...scoped }));
    if (row.scope) join.path = row.path;
    return join;
  }

  /**
   * The row of task `taskId` under `parent`: the task's own row at its first place (or a row
   * of the parent's scope below another place), else a row of its own scope (another place).
   */
  private place(parent: ViewNode, taskId: string): TaskNode {
    const processKey = parent.processKey;
    if (this.options.arrangement !== 'awaiter') return this.taskNode(processKey, taskId);
    const expected = this.awaiterIndex(processKey).parentOf!.get(taskId) ?? null;
    const scope = parent.kind === 'process' || parent.kind === 'loop' ? '' : (parent.scope ?? '');
    const first = expected === anchorOf(parent);
    if (first && !scope) return this.taskNode(processKey, taskId);
    // The ids say where the rows are; the tasks above the first places may have moved since.
    const above = this.pathOf(parent);
    let made: TaskNode;
    if (first) {
      const id = `${scope}>${taskId}`;
      made = this.node<TaskNode>(id, () => ({ kind: 'task', id, processKey, taskId, scope, via: parent }));
    } else {
      const id = `${parent.id}>${taskId}`;
      made = this.node<TaskNode>(id, () => ({ kind: 'task', id, processKey, taskId, scope: id, via: parent, alias: true }));
      made.cycle = above.includes(taskId);
    }
    made.path = [...above, taskId];
    const key = `${processKey}/${taskId}`;
    let ids = this.placements.get(key);
    if (!ids) this.placements.set(key, (ids = new Set()));
    ids.add(made.id);
    return made;
  }

  /** The tasks on the way down to `row`, its own task (or waiter) included. */
  private pathOf(row: ViewNode): readonly string[] {
    if (row.kind !== 'process' && row.kind !== 'loop' && row.path) return row.path;
    // A row at its first place: the chain of first places above it.
    const parentOf = this.awaiterIndex(row.processKey).parentOf!;
    const path: string[] = [];
    for (let id: string | null | undefined = anchorOf(row); id && path.length < 1024; id = parentOf.get(id)) path.push(id);
    return path;
  }

  private awaiterIndex(processKey: string): ProcessIndex {
    const index = this.index(processKey);
    if (!index.awaiter) {
      const awaiter = new Map<string, string>();
      const groups = new Map<string, string[]>();
      const owners = new Map<string, string>();
      const all = this.allTasks(processKey);
      for (const t of all) {
        const waited = t.waitingOn?.tasks;
        if (waited) for (const u of waited) if (u !== t.id && !awaiter.has(u)) awaiter.set(u, t.id);
      }
      for (const t of all) {
        if (!t.group || awaiter.has(t.id)) continue;
        let members = groups.get(t.group);
        if (!members) groups.set(t.group, (members = []));
        members.push(t.id);
      }
      const parentOf = new Map(awaiter);
      for (const [groupId, members] of groups) {
        // The group's owner: the task that created its first task, while it is known.
        const owner = this.model.task(processKey, members[0])?.parent;
        if (!owner || !this.model.task(processKey, owner)) continue;
        owners.set(groupId, owner);
        for (const m of members) if (m !== owner) parentOf.set(m, owner);
      }
      breakCycles(parentOf, (id) => this.model.task(processKey, id));
      index.awaiter = awaiter;
      index.groups = groups;
      index.owners = owners;
      index.parentOf = parentOf;
    }
    return index;
  }

  /** Applies hide-finished and the filter to a list of sibling tasks. */
  private shown(processKey: string, tasks: TaskRecord[]): TaskRecord[] {
    if (!this.options.hideFinished && !this.options.filter) return tasks;
    const out: TaskRecord[] = [];
    const visit = (list: TaskRecord[], depth: number) => {
      for (const t of list) {
        if (this.options.hideFinished && isFinished(t)) {
          // A hidden finished task's live children move up to its place.
          if (depth < 64 && this.options.arrangement === 'creator') visit(this.model.children(processKey, t.id), depth + 1);
          continue;
        }
        if (!this.options.filter || this.visibleSet(processKey).has(t.id)) out.push(t);
      }
    };
    visit(tasks, 0);
    return out;
  }

  /** Flat arrangement: each task on its own, so only its own match counts. */
  private passes(task: TaskRecord): boolean {
    if (this.options.hideFinished && isFinished(task)) return false;
    return !this.options.filter || this.matches(task);
  }

  private visibleSet(processKey: string): Set<string> {
    const index = this.index(processKey);
    if (!index.visible) {
      const visible = new Set<string>();
      const upward = (id: string | null | undefined): string | undefined => {
        if (!id) return undefined;
        if (this.options.arrangement === 'awaiter') return this.awaiterIndex(processKey).parentOf!.get(id);
        return this.model.task(processKey, id)?.parent ?? undefined;
      };
      for (const t of this.allTasks(processKey)) {
        if (!this.matches(t)) continue;
        let id: string | undefined = t.id;
        for (let i = 0; id && !visible.has(id) && i < 256; i++) {
          visible.add(id);
          id = upward(id);
        }
      }
      index.visible = visible;
    }
    return index.visible;
  }

  private matches(task: TaskRecord): boolean {
    const needle = this.options.filter.toLowerCase();
    return (
      task.name.toLowerCase().includes(needle) ||
      task.coro.toLowerCase().includes(needle) ||
      (creationFrame(task)?.frame.file.toLowerCase().includes(needle) ?? false)
    );
  }

  /** Folds task siblings that share a creation site and coroutine, past the threshold. */
  private fold(parent: ViewNode, items: (TaskRecord | JoinNode)[]): ViewNode[] {
    const threshold = this.options.foldThreshold;
    let tasks = 0;
    for (const i of items) if (!('kind' in i)) tasks++;
    // The key of each item (its creation site and coroutine), made once: 100k of them cost.
    const keys: string[] | undefined = threshold > 0 && tasks >= threshold ? new Array(items.length) : undefined;
    const groups = new Map<string, TaskRecord[]>();
    if (keys) {
      items.forEach((t, i) => {
        if ('kind' in t) return;
        const key = (keys[i] = foldKey(t));
        let list = groups.get(key);
        if (!list) groups.set(key, (list = []));
        list.push(t);
      });
    }
    const out: ViewNode[] = [];
    const emitted = new Set<string>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if ('kind' in item) {
        out.push(item);
        continue;
      }
      const key = keys?.[i];
      const group = key === undefined ? undefined : groups.get(key);
      if (!key || !group || group.length < threshold) {
        out.push(this.place(parent, item.id));
      } else if (!emitted.has(key)) {
        emitted.add(key);
        const id = `${parent.id}>${key}`;
        const scope = parent.kind === 'process' || parent.kind === 'loop' ? '' : parent.scope;
        const scoped = scope ? { scope, via: parent } : {};
        const fold = this.node<FoldNode>(id, () => ({
          kind: 'fold', id, processKey: parent.processKey, anchor: anchorOf(parent), siteKey: siteKey(item), madeBy: madeBy(item), coro: item.coro, taskIds: [], ...scoped,
        }));
        fold.coro = item.coro;
        if (scope) fold.path = this.pathOf(parent);
        fold.taskIds = group.map((t) => t.id);
        out.push(fold);
      }
    }
    return out;
  }

  /** The tasks of a fold (or of a part of one) that are shown now, in the fold's order. */
  private foldedTasks(node: FoldNode): string[] {
    if (this.options.hideFinished || this.options.filter) return this.shown(node.processKey, this.tasks(node.processKey, node.taskIds)).map((t) => t.id);
    // One pass (a fold may hold 100k tasks): those the agent still reports.
    const known = this.model.taskMap(node.processKey);
    if (!known) return [];
    const ids: string[] = [];
    for (const id of node.taskIds) if (known.has(id)) ids.push(id);
    return ids;
  }

  /**
   * The parts a large fold opens onto, `size` tasks each in the fold's order. A part's id is
   * its number, so an open part stays open; the tasks in it move up as older ones go.
   */
  private parts(fold: FoldNode, ids: string[], size: number): FoldNode[] {
    const parts: FoldNode[] = [];
    for (let offset = 0; offset < ids.length; offset += size) {
      const id = `${fold.id}#${offset / size + 1}`;
      const part = this.node<FoldNode>(id, () => ({
        kind: 'fold', id, processKey: fold.processKey, anchor: fold.anchor, siteKey: fold.siteKey, madeBy: fold.madeBy, coro: fold.coro, taskIds: [], offset, scope: fold.scope, via: fold,
      }));
      part.coro = fold.coro;
      part.path = fold.path;
      part.taskIds = ids.slice(offset, offset + size);
      part.total = ids.length;
      parts.push(part);
    }
    return parts;
  }

  private allTasks(processKey: string): TaskRecord[] {
    return this.model.allTasks(processKey);
  }

  private tasks(processKey: string, ids: readonly string[]): TaskRecord[] {
    return ids.map((id) => this.model.task(processKey, id)).filter(isDefined);
  }

  private index(processKey: string): ProcessIndex {
    let index = this.indexes.get(processKey);
    if (!index) this.indexes.set(processKey, (index = {}));
    return index;
  }

  private node<T extends ViewNode>(id: string, make: () => T): T {
    let node = this.nodes.get(id);
    if (!node) this.nodes.set(id, (node = make()));
    return node as T;
  }

  private forgetNode(id: string, node: ViewNode): void {
    this.nodes.delete(id);
    if (node.kind === 'task' && node.via) this.placements.get(`${node.processKey}/${node.taskId}`)?.delete(id);
  }
}

/** Rows whose place is fixed by their id (awaiter arrangement, below another place). */
function isPlaced(node: ViewNode): boolean {
  return node.kind !== 'process' && node.kind !== 'loop' && node.via !== undefined;
}

/** The task a row stands under, for the tasks placed below it (none at the top). */
function anchorOf(row: ViewNode): string | null {
  switch (row.kind) {
    case 'process':
    case 'loop':
      return null;
    case 'task':
      return row.taskId;
    case 'join':
      return row.waiterId;
    case 'fold':
      return row.anchor;
  }
}

/**
 * Makes `parentOf` a forest: tasks that wait on each other in a ring (a deadlock) would
 * otherwise have no top and show nowhere; the ring's oldest task goes to the top.
 */
function breakCycles(parentOf: Map<string, string>, task: (id: string) => TaskRecord | undefined): void {
  // Each task is walked once: `seen` holds the walk it was first met on (a number per walk, so
  // that no set is made per walk: there are as many walks as tasks that wait).
  const seen = new Map<string, number>();
  const walk: string[] = [];
  let number = 0;
  // Every task in a ring is the parent of the next: walks from the parents find every ring
  // (100k tasks in one gather have one parent, so one walk).
  const parents = new Set(parentOf.values());
  for (const start of parents) {
    if (!parentOf.has(start)) continue;
    number++;
    walk.length = 0;
    let id: string | undefined = start;
    while (id !== undefined && !seen.has(id)) {
      walk.push(id);
      seen.set(id, number);
      id = parentOf.get(id);
    }
    if (id !== undefined && seen.get(id) === number) {
      const ring = walk.slice(walk.indexOf(id));
      const created = (t: string) => task(t)?.created ?? 0;
      parentOf.delete(ring.reduce((oldest, t) => (created(t) < created(oldest) ? t : oldest)));
    }
  }
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
