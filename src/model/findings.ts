/**
 * Runtime findings reported by the agents (fire-and-forget, destroyed while pending, exception
 * never retrieved, orphan, stuck, loop blocked), kept until the user clears them — also after
 * the process exits. The same kind at the same place is one finding with a count, not a new
 * row each time.
 *
 * Pure: no `vscode` import.
 */

import { Emitter, Event } from './emitter';
import type { EventMessage, Frame, TaskRecord } from '../protocol/messages';

export const FINDING_KINDS = [
  'fire-and-forget',
  'destroyed-pending',
  'exception-never-retrieved',
  'orphan',
  'stuck',
  'loop-blocked',
] as const;
export type KnownFindingKind = (typeof FINDING_KINDS)[number];

export const FINDING_TITLES: Record<KnownFindingKind, string> = {
  'fire-and-forget': 'Fire-and-forget task',
  'destroyed-pending': 'Task destroyed while pending',
  'exception-never-retrieved': 'Task exception never retrieved',
  orphan: 'Orphan task',
  stuck: 'Stuck task',
  'loop-blocked': 'Event loop blocked',
};

export function findingTitle(kind: string): string {
  return (FINDING_TITLES as Record<string, string>)[kind] ?? kind;
}

/** A place that matters for a finding besides its own site. */
export interface RelatedPlace {
  readonly frame: Frame;
  readonly note: string;
}

export interface Finding {
  /** Stable: kind and place. */
  readonly id: string;
  readonly kind: string;
  /** The newest message for it. */
  message: string;
  readonly site?: Frame;
  /** The newest process and task it was seen in. */
  processKey: string;
  taskId?: string;
  evidence: Readonly<Record<string, unknown>>;
  related: RelatedPlace[];
  count: number;
  first: number;
  last: number;
}

export interface FindingsChange {
  readonly added: readonly Finding[];
  readonly updated: readonly Finding[];
  readonly cleared: boolean;
}

function frameOf(value: unknown): Frame | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const f = value as Record<string, unknown>;
  return typeof f.file === 'string' && typeof f.line === 'number' && typeof f.function === 'string'
    ? { file: f.file, line: f.line, function: f.function }
    : undefined;
}

/** The innermost frame of the program's own code (`user`) in a list of frames, or undefined. */
function innermostUser(value: unknown): Frame | undefined {
  return Array.isArray(value) ? frameOf([...value].reverse().find((f) => (f as { user?: unknown } | null)?.user === true)) : undefined;
}

/** The innermost frame of the program's own code (`user`), else the innermost frame. */
function innermostOwn(value: unknown): Frame | undefined {
  return innermostUser(value) ?? framesOf(value).pop();
}

function framesOf(value: unknown): Frame[] {
  return Array.isArray(value) ? value.map(frameOf).filter((f): f is Frame => f !== undefined) : [];
}

/**
 * The event, with where its task waits taken from the task's record when the agent did not
 * send it (fire-and-forget and orphan findings concern pending tasks whose await chain the
 * model knows), so that the diagnostic points there too.
 */
export function withTaskEvidence(event: EventMessage, task: TaskRecord | undefined): EventMessage {
  const evidence = event.evidence ?? {};
  if (event.kind === 'loop-blocked') {
    // Where the running task was created (a recording of an older agent did not send it).
    if (!task?.site || evidence.created !== undefined) return event;
    return { ...event, evidence: { ...evidence, created: task.site } };
  }
  if (!task || task.state !== 'pending' || !task.awaiting?.length || evidence.awaiting !== undefined) return event;
  return { ...event, evidence: { ...evidence, awaiting: task.awaiting } };
}

/** The places a finding's evidence points to, each with what it is. */
export function relatedPlaces(event: EventMessage): RelatedPlace[] {
  const evidence = event.evidence ?? {};
  const out: RelatedPlace[] = [];
  // Where it waits: the program's own line, as Open Await Point opens it (not asyncio's).
  const lastAwait = innermostOwn(evidence.awaiting);
  if (lastAwait) out.push({ frame: lastAwait, note: 'where it waits' });
  const traceback = framesOf(evidence.traceback);
  const raised = traceback[traceback.length - 1];
  if (raised) out.push({ frame: raised, note: `where ${String(evidence.type ?? 'the exception')} was raised` });
  const blocking = frameOf(evidence.blocking);
  if (blocking && event.kind === 'loop-blocked') {
    // At the running task's creation (see `placeOf`), the first place is where it blocked.
    if (frameOf(evidence.created)) out.push({ frame: blocking, note: 'where the loop was blocked' });
    const stack = framesOf(evidence.stack);
    const innermost = stack[stack.length - 1];
    const same = (a: Frame, b: Frame) => a.file === b.file && a.line === b.line;
    if (innermost && !same(innermost, blocking)) out.push({ frame: innermost, note: 'innermost frame while blocked' });
    // The program's own calls that led there, innermost first (the task's coroutine last).
    const own = Array.isArray(evidence.stack) ? evidence.stack.filter((f) => (f as { user?: unknown })?.user === true) : [];
    for (const caller of framesOf(own).reverse()) {
      if (!same(caller, blocking)) out.push({ frame: caller, note: 'called from' });
    }
  }
  return out;
}

/**
 * Where a finding's diagnostic goes: the line that created its task. A blocked loop's finding
 * names the blocking line as its site (its gutter mark goes there, and repeats are counted by
 * it); its diagnostic goes to where the running task was created, when that is known. A task
 * that no line of the program's made (a library made it in a callback of the event loop: a
 * server's connection tasks) has no site: its diagnostic goes to the program's own line where
 * it waits, else where its exception was raised, never into a library's file.
 */
export function placeOf(finding: Pick<Finding, 'kind' | 'site' | 'evidence'>): Frame | undefined {
  if (finding.kind === 'loop-blocked') return frameOf(finding.evidence.created) ?? finding.site;
  return shownPlace(finding);
}

/**
 * A finding's own place: where the Findings view shows and opens it, and what counts repeats
 * as one finding. Its site (a blocked loop's blocking line), else, for a task a library made,
 * the program's own line where it waits or raised.
 */
export function shownPlace(finding: Pick<Finding, 'kind' | 'site' | 'evidence'>): Frame | undefined {
  return finding.site ?? (finding.kind === 'loop-blocked' ? undefined : ownPlace(finding.evidence));
}

/** The program's own line in a finding's evidence: where its task waits, else where it raised. */
function ownPlace(evidence: Readonly<Record<string, unknown>>): Frame | undefined {
  return innermostUser(evidence.awaiting) ?? innermostUser(evidence.traceback);
}

export class FindingStore {
  private readonly byId = new Map<string, Finding>();
  /** processKey → task id → the kinds of the findings that concern the task. */
  private readonly flaggedTasks = new Map<string, Map<string, Set<string>>>();
  private readonly changeEmitter = new Emitter<FindingsChange>();

  readonly onDidChange: Event<FindingsChange> = this.changeEmitter.event;

  add(processKey: string, event: EventMessage): Finding {
    // The connection tasks stuck at one line of a handler are one finding, counted (`shownPlace`).
    const at = shownPlace({ kind: event.kind, site: event.site, evidence: event.evidence ?? {} });
    const place = at ? `${at.file}:${at.line}` : `${processKey}/${event.task ?? '?'}`;
    const id = `${event.kind}@${place}`;
    const existing = this.byId.get(id);
    if (event.task) {
      let flagged = this.flaggedTasks.get(processKey);
      if (!flagged) this.flaggedTasks.set(processKey, (flagged = new Map()));
      let kinds = flagged.get(event.task);
      if (!kinds) flagged.set(event.task, (kinds = new Set()));
      kinds.add(event.kind);
    }
    if (existing) {
      existing.count++;
      existing.last = event.time;
      existing.message = event.message;
      existing.processKey = processKey;
      existing.taskId = event.task;
      existing.evidence = event.evidence ?? {};
      existing.related = relatedPlaces(event);
      this.changeEmitter.fire({ added: [], updated: [existing], cleared: false });
      return existing;
    }
    const finding: Finding = {
      id,
      kind: event.kind,
      message: event.message,
      site: event.site,
      processKey,
      taskId: event.task,
      evidence: event.evidence ?? {},
      related: relatedPlaces(event),
      count: 1,
      first: event.time,
      last: event.time,
    };
    this.byId.set(id, finding);
    this.changeEmitter.fire({ added: [finding], updated: [], cleared: false });
    return finding;
  }

  all(): Finding[] {
    return [...this.byId.values()];
  }

  ofKind(kind: string): Finding[] {
    return this.all().filter((f) => f.kind === kind);
  }

  /** Kinds that have findings, known kinds first in their usual order, then the others. */
  kinds(): string[] {
    const present = new Set(this.all().map((f) => f.kind));
    const known = (FINDING_KINDS as readonly string[]).filter((k) => present.has(k));
    return [...known, ...[...present].filter((k) => !known.includes(k)).sort()];
  }

  /** Whether some finding concerns this task. */
  isFlagged(processKey: string, taskId: string): boolean {
    return this.flaggedTasks.get(processKey)?.has(taskId) ?? false;
  }

  /** The kinds of the findings that concern this task, in their usual order. */
  kindsOf(processKey: string, taskId: string): string[] {
    const kinds = this.flaggedTasks.get(processKey)?.get(taskId);
    if (!kinds) return [];
    const known = (FINDING_KINDS as readonly string[]).filter((k) => kinds.has(k));
    return [...known, ...[...kinds].filter((k) => !known.includes(k)).sort()];
  }

  /** Total occurrences (counting repeats) of findings of one kind created at one line. */
  countAt(file: string, line: number, kinds?: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const f of this.byId.values()) {
      if (f.site?.file !== file || f.site.line !== line) continue;
      if (kinds && !kinds.includes(f.kind)) continue;
      out.set(f.kind, (out.get(f.kind) ?? 0) + f.count);
    }
    return out;
  }

  /** Forgets every finding (of one process only, when given). */
  clear(processKey?: string): void {
    if (processKey === undefined) {
      this.byId.clear();
      this.flaggedTasks.clear();
    } else {
      for (const [id, f] of this.byId) if (f.processKey === processKey) this.byId.delete(id);
      this.flaggedTasks.delete(processKey);
    }
    this.changeEmitter.fire({ added: [], updated: [], cleared: true });
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}
