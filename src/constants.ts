/**
 * Every id the extension contributes (commands, views, settings), in one place. package.json
 * must agree with this file; the unit tests check that it does. Pure: no `vscode` import
 * (the typed helpers that use these ids are in contributes.ts).
 */

export const EXTENSION_ID = 'taskscope.taskscope';

export const Commands = {
  runFile: 'taskscope.runFile',
  openCreationSite: 'taskscope.openCreationSite',
  removeProcess: 'taskscope.removeProcess',
  showLogs: 'taskscope.showLogs',
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  container: 'taskscope',
  tasks: 'taskscope.tasks',
} as const;

/** Settings and their value types. */
export interface Settings {
  'python.path': string;
}

/** The names of the settings above, for code that lists them (tests, docs). */
export const SETTING_KEYS: readonly (keyof Settings)[] = ['python.path'];
