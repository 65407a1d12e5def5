/**
 * "TaskScope: Run Python File with Task Tracing": runs a Python file in a terminal under the
 * bundled agent, connected to this window.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import type { Log } from '../log';
import type { InterpreterResolver } from '../python/interpreter';
import { AgentLaunch, agentLaunch, AgentTuning, commandLine } from './agentEnvironment';

export interface RunFileDependencies {
  readonly log: Log;
  readonly interpreters: InterpreterResolver;
  /** The folder that holds the agent package (`<extension>/python`). */
  readonly agentRoot: string;
  /** Where this window listens for agents. */
  address(): string;
  /** The agent's thresholds and interval, from the settings. */
  tuning(): AgentTuning;
}

export interface RunFileResult {
  readonly file: string;
  readonly launch: AgentLaunch;
  readonly terminal: vscode.Terminal;
}

export class RunFileCommand implements vscode.Disposable {
  private readonly terminals = new Map<string, vscode.Terminal>();
  private readonly closeListener: vscode.Disposable;

  constructor(private readonly deps: RunFileDependencies) {
    this.closeListener = vscode.window.onDidCloseTerminal((t) => {
      for (const [file, terminal] of this.terminals) if (terminal === t) this.terminals.delete(file);
    });
  }

  /** Runs `uri` (from a menu) or the active editor's file. Returns what it started, for tests. */
  async run(uri?: vscode.Uri): Promise<RunFileResult | undefined> {
    const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
    if (!target || target.scheme !== 'file') {
      void vscode.window.showWarningMessage('TaskScope: open a Python file to run it with task tracing.');
      return undefined;
    }
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    if (document?.isDirty) await document.save();

    const interpreter = await this.deps.interpreters.resolve(target);
    const file = target.fsPath;
    const launch = agentLaunch(interpreter.path, file, this.deps.agentRoot, this.deps.address(), process.env.PYTHONPATH, undefined, this.deps.tuning());
    const cwd = vscode.workspace.getWorkspaceFolder(target)?.uri.fsPath ?? path.dirname(file);
    this.deps.log.info(`running ${file} with ${interpreter.path} (from ${interpreter.source}) in ${cwd}`);

    // One terminal per file, as "Run Python File" does; a finished run's terminal is reused.
    this.terminals.get(file)?.dispose();
    const terminal = vscode.window.createTerminal({
      name: `TaskScope: ${path.basename(file)}`,
      cwd,
      env: { ...launch.env },
      iconPath: new vscode.ThemeIcon('run-coverage'),
    });
    this.terminals.set(file, terminal);
    terminal.show(true);
    terminal.sendText(commandLine(launch), true);
    return { file, launch, terminal };
  }

  dispose(): void {
    this.closeListener.dispose();
  }
}
