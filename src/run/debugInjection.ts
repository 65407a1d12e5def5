/**
 * Loads the agent into Python debug sessions (`debugpy` and the older `python` type), so the
 * Tasks view works while you debug: the launch configuration's environment gets the
 * bootstrap folder on PYTHONPATH and this window's address. Attach configurations are left
 * alone (the program is already running). Turned off by `taskscope.debug.injectAgent`.
 */

import * as vscode from 'vscode';
import { getSetting } from '../contributes';
import type { Logger } from '../ipc/agentServer';
import { AgentTuning, injectionEnv } from './agentEnvironment';

export const PYTHON_DEBUG_TYPES = ['debugpy', 'python'] as const;

export class DebugInjection implements vscode.DebugConfigurationProvider, vscode.Disposable {
  private readonly registrations: vscode.Disposable[];

  constructor(
    private readonly agentRoot: string,
    private readonly address: () => string,
    private readonly tuning: () => AgentTuning,
    private readonly logger: Logger,
  ) {
    this.registrations = PYTHON_DEBUG_TYPES.map((type) => vscode.debug.registerDebugConfigurationProvider(type, this));
  }

  resolveDebugConfigurationWithSubstitutedVariables(
    _folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): vscode.DebugConfiguration {
    if (!getSetting('debug.injectAgent') || config.request !== 'launch') return config;
    const env: Record<string, string | undefined> = { ...(config.env ?? {}) };
    const existing = env.PYTHONPATH ?? process.env.PYTHONPATH;
    Object.assign(env, injectionEnv(this.agentRoot, this.address(), existing || undefined, undefined, this.tuning()));
    this.logger.info(`debug session '${config.name}': the agent will connect to ${this.address()}`);
    return { ...config, env };
  }

  dispose(): void {
    for (const r of this.registrations) r.dispose();
  }
}
