/**
 * The words of a task row: where it waits, for how long, how it ended. Pure: no `vscode`
 * import, so the unit tests read exactly what the view shows.
 */

import * as path from 'path';
import { findingTitle } from '../model/findings';
import type { Frame, TaskRecord } from '../protocol/messages';

export function describeFrame(frame: Frame): string {
  return `${path.basename(frame.file)}:${frame.line}`;
}

/**
 * Where a task was made, to show and to open: its site (the program's own frame that made it),
 * or, when no frame of the program's was on the stack, the innermost frame of its creation
 * stack, `library` then: the library code that made it, as a server's connection and request
 * tasks are made in a callback of the event loop (`StreamReaderProtocol.connection_made`,
 * aiohttp's request handler). Undefined when neither is known.
 */
export function creationFrame(task: TaskRecord): { frame: Frame; library: boolean } | undefined {
  if (task.site) return { frame: task.site, library: false };
  const innermost = task.stack?.[0];
  return innermost ? { frame: innermost, library: true } : undefined;
}

/** "1.2 s", "3 min 4 s", "2 h 5 min": how long something has lasted. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How long a wait is shown in a row: coarse, so rows need redrawing only now and then. */
export function coarseDuration(ms: number): string | undefined {
  if (ms < 5_000) return undefined;
  if (ms < 60_000) return `${Math.floor(ms / 5_000) * 5} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}

/** The short text after a task's name: its coroutine, and where it waits (and for how long) or how it ended. */
export function taskDescription(task: TaskRecord, now = Date.now()): string {
  const where = task.awaiting?.[task.awaiting.length - 1];
  switch (task.state) {
    case 'pending': {
      if (!where) return task.coro;
      const on = task.waitingOn?.label ?? where.function;
      const waited = task.waitingSince !== undefined ? coarseDuration(now - task.waitingSince) : undefined;
      return `${task.coro} · awaiting ${on} · ${describeFrame(where)}${waited ? ` · ${waited}` : ''}`;
    }
    case 'running':
      return `${task.coro} · running`;
    case 'failed':
      return `${task.coro} · failed${task.exception ? `: ${task.exception.type}` : ''}`;
    default:
      return `${task.coro} · ${task.state}`;
  }
}

/**
 * What a row shows besides its icon (a decoration: the colour of its label and a badge, as
 * the Explorer marks a file with problems): the findings that concern a task, and the grey of
 * a process that exited and of its tasks. Colours are theme colour ids.
 */
export interface RowMark {
  readonly badge?: string;
  readonly tooltip?: string;
  readonly color?: string;
}

export function taskMark(findingKinds: readonly string[], exited: boolean): RowMark | undefined {
  if (findingKinds.length) {
    const severe = findingKinds.includes('exception-never-retrieved');
    return {
      badge: findingKinds.length > 9 ? '9+' : String(findingKinds.length),
      tooltip: findingKinds.map(findingTitle).join(', '),
      color: severe ? 'list.errorForeground' : 'list.warningForeground',
    };
  }
  return exited ? { color: 'disabledForeground' } : undefined;
}

export function processMark(exited: boolean): RowMark | undefined {
  return exited ? { tooltip: 'exited', color: 'disabledForeground' } : undefined;
}
