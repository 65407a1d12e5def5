/**
 * Typed helpers over the ids in constants.ts: register a command, read a setting.
 */

import * as vscode from 'vscode';
import type { CommandId, Settings } from './constants';

export function getSetting<K extends keyof Settings>(key: K, scope?: vscode.ConfigurationScope): Settings[K] | undefined {
  return vscode.workspace.getConfiguration('taskscope', scope).get<Settings[K]>(key);
}

export function registerCommand(id: CommandId, handler: (...args: any[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, handler);
}
