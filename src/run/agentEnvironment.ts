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
): AgentLaunch {
  const pythonPath = existingPythonPath ? `${agentRoot}${delimiter}${existingPythonPath}` : agentRoot;
  return {
    executable: python,
    args: ['-m', 'taskscope', 'run', script],
    env: { PYTHONPATH: pythonPath, TASKSCOPE_CONNECT: address },
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
