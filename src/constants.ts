/**
 * Every id the extension contributes (commands, views, settings), in one place. package.json
 * must agree with this file; the unit tests check that it does. Pure: no `vscode` import
 * (the typed helpers that use these ids are in contributes.ts).
 */

export const EXTENSION_ID = 'taskscope.taskscope';

export const Commands = {
  runFile: 'taskscope.runFile',
  attachCommand: 'taskscope.attachCommand',
  copyAgent: 'taskscope.copyAgent',
  openRecording: 'taskscope.openRecording',
  openCreationSite: 'taskscope.openCreationSite',
  openAwaitPoint: 'taskscope.openAwaitPoint',
  cancelTask: 'taskscope.cancelTask',
  cancelTaskTree: 'taskscope.cancelTaskTree',
  copyStack: 'taskscope.copyStack',
  revealCreator: 'taskscope.revealCreator',
  removeProcess: 'taskscope.removeProcess',
  removeExitedProcesses: 'taskscope.removeExitedProcesses',
  arrangeByCreator: 'taskscope.arrangeByCreator',
  arrangeByAwaiter: 'taskscope.arrangeByAwaiter',
  arrangeFlat: 'taskscope.arrangeFlat',
  filterTasks: 'taskscope.filterTasks',
  clearFilter: 'taskscope.clearFilter',
  hideFinished: 'taskscope.hideFinished',
  showFinished: 'taskscope.showFinished',
  openFinding: 'taskscope.openFinding',
  clearFindings: 'taskscope.clearFindings',
  showLogs: 'taskscope.showLogs',
  lintWorkspace: 'taskscope.lintWorkspace',
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  container: 'taskscope',
  tasks: 'taskscope.tasks',
  findings: 'taskscope.findings',
} as const;

/** Context keys the manifest's `when` clauses read. */
export const ContextKeys = {
  arrangement: 'taskscope.arrangement',
  filtered: 'taskscope.filtered',
  hideFinished: 'taskscope.hideFinished',
  hasFindings: 'taskscope.hasFindings',
  hasExitedProcesses: 'taskscope.hasExitedProcesses',
} as const;

/** Settings and their value types. */
export interface Settings {
  'python.path': string;
  'tasks.foldThreshold': number;
  'tasks.historySeconds': number;
  'debug.injectAgent': boolean;
  /** The address the TCP listener for programs started elsewhere binds (src/ipc/listenHost.ts). */
  'attach.listenHost': string;
  /** Where the files of a program in a container are in this workspace (src/protocol/pathMappings.ts). */
  'attach.pathMappings': readonly { readonly remoteRoot: string; readonly localRoot: string }[];
  'agent.stuckThreshold': number;
  'agent.blockedThreshold': number;
  'agent.sampleInterval': number;
  'lint.enabled': boolean;
  /** Rule code -> severity or "off" (see src/lint/rules.ts). */
  'lint.rules': Partial<Record<string, 'error' | 'warning' | 'information' | 'hint' | 'off'>>;
}

/** The names of the settings above, for code that lists them (tests, docs). */
export const SETTING_KEYS: readonly (keyof Settings)[] = [
  'python.path',
  'tasks.foldThreshold',
  'tasks.historySeconds',
  'debug.injectAgent',
  'attach.listenHost',
  'attach.pathMappings',
  'agent.stuckThreshold',
  'agent.blockedThreshold',
  'agent.sampleInterval',
  'lint.enabled',
  'lint.rules',
];
