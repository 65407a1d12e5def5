/**
 * The state of every connected (and exited) process and its tasks, fed by the IPC layer.
 *
 * Pure: no `vscode` import. Views read from it and listen to `onDidChange`, which says
 * precisely what changed so that a tree can refresh only the rows concerned.
 */

import { Emitter, Event } from './emitter';
import type { DeltaMessage, HelloMessage, LoopRecord, SnapshotMessage, TaskRecord } from '../protocol/messages';

export type ProcessStatus = 'connected' | 'exited';

export interface ProcessInfo {
  /** Unique within this window, never reused ("p1", "p2", …). */
  readonly key: string;
  readonly pid: number;
  /** What the view shows: the agent's title, else the script or module it runs. */
  readonly title: string;
  readonly python: string;
  readonly implementation?: string;
  readonly executable?: string;
  readonly argv: readonly string[];
  readonly cwd?: string;
  readonly agentVersion: string;
  readonly status: ProcessStatus;
  /** Set once exited: the code from `bye`, or null when the process did not say. */
  readonly exitCode?: number | null;
}

/** What one change touched. `parents` lists the rows whose children changed (null: the process's top level). */
export interface ModelChange {
  readonly processKey: string;
  /** The process row itself changed (status, title), or the process was added or removed. */
  readonly processChanged: boolean;
  /** Everything under the process was replaced (a snapshot), or the process is gone. */
  readonly reset: boolean;
  /** Tasks whose own row changed (state, name, where it waits). */
  readonly updated: readonly string[];
  /** Rows whose list of children changed; null stands for the process's top-level tasks. */
  readonly parents: readonly (string | null)[];
  /** Tasks the agent no longer reports. */
  readonly removed: readonly string[];
}

/** The tasks of one process, with a parent → children index kept as they change. */
class ProcessTasks {
  readonly tasks = new Map<string, TaskRecord>();
  readonly loops = new Map<string, LoopRecord>();
  /** parent id → ids of the tasks it created, whether or not the parent is still known. */
  private readonly childrenOf = new Map<string, Set<string>>();
  /** Tasks shown at the top: no parent, or a parent the agent no longer reports. */
  readonly roots = new Set<string>();

  /** Adds or replaces a task, noting the rows whose children changed and the rows that changed. */
  upsert(task: TaskRecord, parents: Set<string | null>, updated: Set<string>): void {
    const old = this.tasks.get(task.id);
    if (old && old.parent === task.parent) {
      this.tasks.set(task.id, task);
      updated.add(task.id);
      return;
    }
    if (old) this.remove(task.id, parents);
    this.tasks.set(task.id, task);
    if (task.parent !== null) {
      let siblings = this.childrenOf.get(task.parent);
      if (!siblings) this.childrenOf.set(task.parent, (siblings = new Set()));
      siblings.add(task.id);
    }
    const parentKnown = task.parent !== null && this.tasks.has(task.parent);
    if (parentKnown) {
      parents.add(task.parent);
    } else {
      this.roots.add(task.id);
      parents.add(null);
    }
    // Children that arrived before this task were shown at the top; now they move under it.
    const early = this.childrenOf.get(task.id);
    if (early) {
      for (const child of early) this.roots.delete(child);
      parents.add(null);
      parents.add(task.id);
    }
  }

  remove(id: string, parents: Set<string | null>): void {
    const task = this.tasks.get(id);
    if (!task) return;
    this.tasks.delete(id);
    if (this.roots.delete(id)) {
      parents.add(null);
    } else if (task.parent !== null) {
      parents.add(task.parent);
    }
    if (task.parent !== null) {
      const siblings = this.childrenOf.get(task.parent);
      siblings?.delete(id);
      if (siblings?.size === 0) this.childrenOf.delete(task.parent);
    }
    // Its children outlive it in the agent's history: they move to the top.
    const orphans = this.childrenOf.get(id);
    if (orphans && orphans.size > 0) {
      for (const child of orphans) if (this.tasks.has(child)) this.roots.add(child);
      parents.add(null);
    }
  }

  childCount(parent: string | null): number {
    return parent === null ? this.roots.size : (this.childrenOf.get(parent)?.size ?? 0);
  }

  children(parent: string | null): TaskRecord[] {
    const ids = parent === null ? this.roots : this.childrenOf.get(parent);
    const out: TaskRecord[] = [];
    if (!ids) return out;
    for (const id of ids) {
      const t = this.tasks.get(id);
      if (t) out.push(t);
    }
    return out.sort(byCreation);
  }

  clear(): void {
    this.tasks.clear();
    this.loops.clear();
    this.childrenOf.clear();
    this.roots.clear();
  }
}

/** Orders tasks as they were created: by time, then by the number in their id. */
function byCreation(a: TaskRecord, b: TaskRecord): number {
  return a.created - b.created || idNumber(a.id) - idNumber(b.id);
}

function idNumber(id: string): number {
  const n = Number.parseInt(id.replace(/^\D+/, ''), 10);
  return Number.isNaN(n) ? 0 : n;
}

export function processTitle(hello: Pick<HelloMessage, 'title' | 'argv'>): string {
  if (hello.title) return hello.title;
  const argv = hello.argv;
  if (argv[0] === '-m' && argv[1]) return argv[1];
  const script = argv[0];
  if (!script) return 'python';
  return script.split(/[\\/]/).pop() || script;
}

export class TaskModel {
  private readonly processMap = new Map<string, { info: ProcessInfo; tasks: ProcessTasks }>();
  private nextKey = 1;
  private readonly changeEmitter = new Emitter<ModelChange>();

  readonly onDidChange: Event<ModelChange> = this.changeEmitter.event;

  addProcess(hello: HelloMessage): ProcessInfo {
    const info: ProcessInfo = {
      key: `p${this.nextKey++}`,
      pid: hello.pid,
      title: processTitle(hello),
      python: hello.python,
      implementation: hello.implementation,
      executable: hello.executable,
      argv: hello.argv,
      cwd: hello.cwd,
      agentVersion: hello.agent,
      status: 'connected',
    };
    this.processMap.set(info.key, { info, tasks: new ProcessTasks() });
    this.fire(info.key, { processChanged: true, reset: true });
    return info;
  }

  applySnapshot(key: string, snapshot: SnapshotMessage): void {
    const entry = this.processMap.get(key);
    if (!entry) return;
    entry.tasks.clear();
    for (const loop of snapshot.loops) entry.tasks.loops.set(loop.id, loop);
    const ignored = new Set<string | null>();
    for (const task of snapshot.tasks) entry.tasks.upsert(task, ignored, new Set());
    this.fire(key, { processChanged: false, reset: true });
  }

  applyDelta(key: string, delta: DeltaMessage): void {
    const entry = this.processMap.get(key);
    if (!entry) return;
    const parents = new Set<string | null>();
    const updated = new Set<string>();
    for (const loop of delta.loops ?? []) entry.tasks.loops.set(loop.id, loop);
    const removed = delta.remove.filter((id) => entry.tasks.tasks.has(id));
    for (const id of removed) entry.tasks.remove(id, parents);
    for (const task of delta.upsert) entry.tasks.upsert(task, parents, updated);
    if (parents.size === 0 && updated.size === 0 && removed.length === 0 && !delta.loops?.length) return;
    this.fire(key, { processChanged: false, reset: false, updated: [...updated], parents: [...parents], removed });
  }

  /**
   * Forgets finished tasks that finished before `cutoff` (ms since the epoch): the view's
   * bounded history. Returns how many went.
   *
   * Only connected processes are pruned. An exited process (a recording is one too) is a
   * picture of the program when it ended, kept whole until it is removed: its last history
   * explains how it ended, nothing new arrives to make it grow, and what it holds is
   * bounded by the agent's own history (`TASKSCOPE_HISTORY_MAX`). A recording's times are
   * those of the run, so pruning it by today's clock would empty it at once.
   */
  pruneFinished(cutoff: number): number {
    let pruned = 0;
    for (const [key, entry] of this.processMap) {
      if (entry.info.status !== 'connected') continue;
      const parents = new Set<string | null>();
      const removed: string[] = [];
      for (const task of entry.tasks.tasks.values()) {
        if (task.finished !== undefined && task.finished < cutoff && task.state !== 'pending' && task.state !== 'running') {
          removed.push(task.id);
        }
      }
      if (!removed.length) continue;
      for (const id of removed) entry.tasks.remove(id, parents);
      pruned += removed.length;
      this.fire(key, { processChanged: false, reset: false, parents: [...parents], removed });
    }
    return pruned;
  }

  markExited(key: string, exitCode: number | null): void {
    const entry = this.processMap.get(key);
    if (!entry || entry.info.status === 'exited') return;
    entry.info = { ...entry.info, status: 'exited', exitCode };
    this.fire(key, { processChanged: true, reset: false });
  }

  removeProcess(key: string): boolean {
    if (!this.processMap.delete(key)) return false;
    this.fire(key, { processChanged: true, reset: true });
    return true;
  }

  /** Every process, in the order they connected. */
  processes(): ProcessInfo[] {
    return [...this.processMap.values()].map((e) => e.info);
  }

  process(key: string): ProcessInfo | undefined {
    return this.processMap.get(key)?.info;
  }

  task(key: string, id: string): TaskRecord | undefined {
    return this.processMap.get(key)?.tasks.tasks.get(id);
  }

  /** The process's tasks by id, read-only: one lookup for a pass over many ids (100k of a fold). */
  taskMap(key: string): ReadonlyMap<string, TaskRecord> | undefined {
    return this.processMap.get(key)?.tasks.tasks;
  }

  /** The tasks created by `parent` (null: the process's top-level tasks), oldest first. */
  children(key: string, parent: string | null): TaskRecord[] {
    return this.processMap.get(key)?.tasks.children(parent) ?? [];
  }

  /** How many tasks `parent` created that the agent still reports (null: the top level). */
  childCount(key: string, parent: string | null): number {
    return this.processMap.get(key)?.tasks.childCount(parent) ?? 0;
  }

  /** Every task of the process, in the order the model first saw them (creation order). */
  allTasks(key: string): TaskRecord[] {
    const tasks = this.processMap.get(key)?.tasks.tasks;
    return tasks ? [...tasks.values()] : [];
  }

  /** Number of tasks the agent reports for the process (live and recently finished). */
  taskCount(key: string): number {
    return this.processMap.get(key)?.tasks.tasks.size ?? 0;
  }

  loops(key: string): LoopRecord[] {
    return [...(this.processMap.get(key)?.tasks.loops.values() ?? [])];
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }

  private fire(
    processKey: string,
    change: { processChanged: boolean; reset: boolean; updated?: string[]; parents?: (string | null)[]; removed?: string[] },
  ): void {
    this.changeEmitter.fire({ processKey, updated: [], parents: [], removed: [], ...change });
  }
}
