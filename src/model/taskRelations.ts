/**
 * Relations between tasks that commands need: what cancelling a task cancels with it, what
 * a task created, the words of the confirmations, and a task's stack as text. Pure: no
 * `vscode` import.
 */

import type { TaskModel } from './taskModel';
import type { Frame, TaskRecord } from '../protocol/messages';

/** The tasks cancelled along with `task`: those it waits on, transitively (a gather's children, a TaskGroup's tasks, an awaited task). */
export function cancelledWith(model: TaskModel, processKey: string, taskId: string): TaskRecord[] {
  const out: TaskRecord[] = [];
  const seen = new Set([taskId]);
  const queue = [taskId];
  while (queue.length) {
    const id = queue.shift()!;
    const target = model.task(processKey, id)?.waitingOn;
    // asyncio.wait() does not cancel what it waits on when its caller is cancelled; an awaited
    // task, a gather and a TaskGroup do.
    if (!target || target.kind === 'wait') continue;
    for (const next of target.tasks ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      const t = model.task(processKey, next);
      if (t && (t.state === 'pending' || t.state === 'running')) {
        out.push(t);
        queue.push(next);
      }
    }
  }
  return out;
}

/** The live tasks `taskId` created, transitively. */
export function descendants(model: TaskModel, processKey: string, taskId: string): TaskRecord[] {
  const out: TaskRecord[] = [];
  const stack = [taskId];
  const seen = new Set<string>();
  while (stack.length) {
    const id = stack.pop()!;
    for (const child of model.children(processKey, id)) {
      if (seen.has(child.id)) continue;
      seen.add(child.id);
      if (child.state === 'pending' || child.state === 'running') out.push(child);
      stack.push(child.id);
    }
  }
  return out;
}

/** A stack as a Python traceback prints it, outermost first. */
export function formatStack(task: TaskRecord, awaiting: readonly Frame[], creation: readonly Frame[]): string {
  const lines = [`Task ${task.name} (${task.coro}) · ${task.state}`];
  if (awaiting.length) {
    lines.push('Waiting at (most recent call last):');
    for (const f of awaiting) lines.push(`  File "${f.file}", line ${f.line}, in ${f.function}`);
  }
  if (creation.length) {
    lines.push('Created at (most recent call last):');
    for (const f of [...creation].reverse()) lines.push(`  File "${f.file}", line ${f.line}, in ${f.function}`);
  }
  if (task.exception) lines.push(`${task.exception.type}: ${task.exception.message}`);
  return lines.join('\n') + '\n';
}

/** A modal confirmation: its question, its detail, and the button that goes ahead. */
export interface Confirmation {
  readonly message: string;
  readonly detail: string;
  readonly button: string;
}

/** Quoted task names, the first `max` of them, then how many more. */
export function taskNames(tasks: readonly TaskRecord[], max = 8): string {
  const shown = tasks.slice(0, max).map((t) => `'${t.name}'`);
  if (tasks.length > max) shown.push(`and ${tasks.length - max} more`);
  return shown.join(', ');
}

/** Cancel Task: names what cancelling it cancels with it (`cancelledWith`). */
export function cancelConfirmation(task: TaskRecord, withIt: readonly TaskRecord[]): Confirmation {
  return {
    message: `Cancel task '${task.name}' (${task.coro})?`,
    detail: withIt.length
      ? `Cancelling it also cancels ${withIt.length === 1 ? 'the task' : `the ${withIt.length} tasks`} it waits on: ${taskNames(withIt)}.`
      : 'Cancelling it cancels no other task.',
    button: 'Cancel Task',
  };
}

/** Cancel Task and Everything It Created: names the live tasks it created (`descendants`). */
export function cancelTreeConfirmation(task: TaskRecord, created: readonly TaskRecord[]): Confirmation {
  return {
    message: `Cancel task '${task.name}' and everything it created?`,
    detail: created.length ? `It created ${created.length} live task${created.length === 1 ? '' : 's'}: ${taskNames(created)}.` : 'It created no live tasks.',
    button: 'Cancel All',
  };
}

