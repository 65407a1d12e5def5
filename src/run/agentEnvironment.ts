/**
 * How a program is started with the agent: the command line of `python -m taskscope run`
 * and the environment that makes the bundled agent importable and points it at this window.
 * Pure: no `vscode` import.
 */

import * as path from 'path';

export interface AgentLaunch {
  readonly executable: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** The agent's tunables, as the extension's settings give them (seconds). */
export interface AgentTuning {
  readonly stuckThreshold?: number;
  readonly blockedThreshold?: number;
  readonly sampleInterval?: number;
  /** How long the agent keeps finished tasks (`taskscope.tasks.historySeconds`). */
  readonly historySeconds?: number;
}

/** The environment variables that carry the tuning to the agent (docs/agent.md). */
export function tuningEnv(tuning: AgentTuning): Record<string, string> {
  const env: Record<string, string> = {};
  if (tuning.stuckThreshold !== undefined) env.TASKSCOPE_STUCK_AFTER = String(tuning.stuckThreshold);
  if (tuning.blockedThreshold !== undefined) env.TASKSCOPE_BLOCKED_AFTER = String(tuning.blockedThreshold);
  if (tuning.sampleInterval !== undefined) env.TASKSCOPE_INTERVAL = String(tuning.sampleInterval);
  if (tuning.historySeconds !== undefined) env.TASKSCOPE_HISTORY_SECONDS = String(tuning.historySeconds);
  return env;
}

function prependPath(first: string, existing: string | undefined, delimiter: string): string {
  return existing ? `${first}${delimiter}${existing}` : first;
}

/**
 * @param agentRoot the folder that holds the `taskscope` package (the extension's `python/`)
 * @param address where the extension listens (`unix:…`, `pipe:…`, `tcp:…`)
 * @param existingPythonPath the PYTHONPATH the program would have had
 */
export function agentLaunch(
  python: string,
  script: string,
  agentRoot: string,
  address: string,
  existingPythonPath: string | undefined,
  delimiter = path.delimiter,
  tuning: AgentTuning = {},
): AgentLaunch {
  return {
    executable: python,
    args: ['-m', 'taskscope', 'run', script],
    env: { PYTHONPATH: prependPath(agentRoot, existingPythonPath, delimiter), TASKSCOPE_CONNECT: address, ...tuningEnv(tuning) },
  };
}

/** The folder whose `sitecustomize` loads the agent into any Python started with it on PYTHONPATH. */
export function bootstrapFolder(agentRoot: string): string {
  return path.join(agentRoot, 'taskscope', 'bootstrap');
}

/**
 * The environment that loads the agent into a program started some other way (a debug
 * session, a terminal): the bootstrap folder on PYTHONPATH, and where to connect.
 */
export function injectionEnv(
  agentRoot: string,
  address: string,
  existingPythonPath: string | undefined,
  delimiter = path.delimiter,
  tuning: AgentTuning = {},
): Record<string, string> {
  return {
    PYTHONPATH: prependPath(bootstrapFolder(agentRoot), existingPythonPath, delimiter),
    TASKSCOPE_CONNECT: address,
    ...tuningEnv(tuning),
  };
}

/** Quotes one word for a POSIX shell (bash, zsh, sh). */
export function quotePosix(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quotes one word for PowerShell (the default shell on Windows). */
export function quotePowerShell(word: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(word) ? word : `'${word.replace(/'/g, "''")}'`;
}

/** The line to type into a terminal to run the launch (environment is set on the terminal). */
export function commandLine(launch: AgentLaunch, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') {
    return ['&', quotePowerShell(launch.executable), ...launch.args.map(quotePowerShell)].join(' ');
  }
  return [launch.executable, ...launch.args].map(quotePosix).join(' ');
}
