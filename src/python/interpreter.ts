/**
 * Which Python runs a traced program: the interpreter chosen in the Python extension when it
 * is installed, else the `taskscope.python.path` setting, else `python3` (`python` on Windows).
 */

import * as vscode from 'vscode';
import { PythonExtension } from '@vscode/python-extension';
import { getSetting } from '../contributes';
import type { Logger } from '../ipc/agentServer';

export interface Interpreter {
  readonly path: string;
  /** Where the choice came from, for the log. */
  readonly source: 'python-extension' | 'setting' | 'default';
}

export interface InterpreterResolver {
  resolve(resource: vscode.Uri | undefined): Promise<Interpreter>;
}

const PYTHON_EXTENSION_ID = 'ms-python.python';

export class DefaultInterpreterResolver implements InterpreterResolver {
  constructor(private readonly logger: Logger) {}

  async resolve(resource: vscode.Uri | undefined): Promise<Interpreter> {
    const fromExtension = await this.fromPythonExtension(resource);
    if (fromExtension) return { path: fromExtension, source: 'python-extension' };
    const configured = getSetting('python.path', resource)?.trim();
    if (configured) return { path: configured, source: 'setting' };
    return { path: process.platform === 'win32' ? 'python' : 'python3', source: 'default' };
  }

  private async fromPythonExtension(resource: vscode.Uri | undefined): Promise<string | undefined> {
    if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) return undefined;
    try {
      const api = await PythonExtension.api();
      const active = api.environments.getActiveEnvironmentPath(resource);
      const resolved = await api.environments.resolveEnvironment(active);
      return resolved?.executable.uri?.fsPath ?? active.path;
    } catch (e) {
      this.logger.warn(`could not ask the Python extension for its interpreter: ${(e as Error).message}`);
      return undefined;
    }
  }
}
