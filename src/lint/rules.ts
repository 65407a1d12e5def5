/**
 * The linter's rules: stable codes, default severities, and the words a user reads. Every
 * message says what is wrong, why it matters, and how to fix it. Pure: no `vscode` import.
 */

export type RuleCode = 'TSK001' | 'TSK002' | 'TSK003' | 'TSK004' | 'TSK005';
export type Severity = 'error' | 'warning' | 'information' | 'hint';
/** What a user may set per rule: a severity, or "off". */
export type SeveritySetting = Severity | 'off';

export interface Rule {
  readonly code: RuleCode;
  /** A short kebab-case name, for SARIF and docs. */
  readonly name: string;
  readonly title: string;
  readonly defaultSeverity: Severity;
  /** One paragraph for docs and SARIF's full description. */
  readonly description: string;
}

export const RULES: Readonly<Record<RuleCode, Rule>> = {
  TSK001: {
    code: 'TSK001',
    name: 'dangling-task',
    title: 'Dangling task',
    defaultSeverity: 'warning',
    description:
      'The event loop keeps only a weak reference to a task, so a task whose only reference is dropped can be ' +
      'garbage-collected before it finishes. Await it, or keep a strong reference (a set that discards the task ' +
      'when it is done), or create it in a TaskGroup.',
  },
  TSK002: {
    code: 'TSK002',
    name: 'coroutine-never-awaited',
    title: 'Coroutine never awaited',
    defaultSeverity: 'error',
    description:
      'Calling an async function only creates a coroutine object; its body never runs unless the coroutine is ' +
      'awaited or wrapped in a task. A coroutine used as a condition is always true.',
  },
  TSK003: {
    code: 'TSK003',
    name: 'swallowed-cancellation',
    title: 'Swallowed cancellation',
    defaultSeverity: 'warning',
    description:
      'asyncio cancels a task by raising CancelledError inside it. Catching it without re-raising makes the task ' +
      'ignore cancel(): timeouts, TaskGroup and shutdown then wait for it or hang. Re-raise it after cleaning up.',
  },
  TSK004: {
    code: 'TSK004',
    name: 'blocking-call-in-async',
    title: 'Blocking call in an async function',
    defaultSeverity: 'warning',
    description:
      'A blocking call in an async function stops the whole event loop, and every other task with it, until it ' +
      'returns. Use the asyncio equivalent or run it in a thread with `await asyncio.to_thread(...)`.',
  },
  TSK005: {
    code: 'TSK005',
    name: 'task-set-never-discards',
    title: 'Background-task set never discards',
    defaultSeverity: 'information',
    description:
      'Tasks are added to a long-lived set but never removed, so every finished task and its result stay in memory: ' +
      'a slow leak. Add `task.add_done_callback(the_set.discard)` after adding the task.',
  },
};

export const RULE_CODES: readonly RuleCode[] = Object.keys(RULES) as RuleCode[];

export function isRuleCode(value: string): value is RuleCode {
  return Object.prototype.hasOwnProperty.call(RULES, value);
}

/** A problem the linter found. Lines and columns are 0-based here, in UTF-16 code units. */
export interface Finding {
  readonly code: RuleCode;
  readonly severity: Severity;
  readonly message: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  /** Offsets into the text (UTF-16), for fixes. */
  readonly start: number;
  readonly end: number;
}
