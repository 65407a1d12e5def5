/**
 * The words "Attach a Program Started Elsewhere…" copies: a command line or environment that
 * starts a program with the agent connected to this window. Pure: no `vscode` import.
 *
 * - `local-run` / `local-env`: this machine, through the window's private socket;
 * - `tcp`: this machine, over TCP on 127.0.0.1 with a token (another user, a sandbox);
 * - `container`: a `docker run` (or `podman run`) line for a container that shares this
 *   machine's network (`--network host`), so that 127.0.0.1 there is 127.0.0.1 here, with
 *   the agent's folder mounted read-only. The agent connects to loopback addresses only
 *   (docs/protocol.md), so a container on a bridge network cannot connect.
 *
 * Each text carries the agent's settings (`tuningEnv`), as the Run command does.
 */

import { AgentTuning, bootstrapFolder, quotePosix, tuningEnv } from './agentEnvironment';

export type AttachChoice = 'local-run' | 'local-env' | 'tcp' | 'container';

/** Where the `container` text mounts the agent's folder. */
export const CONTAINER_AGENT_DIR = '/opt/taskscope';

export interface AttachTextInput {
  /** The folder that holds the `taskscope` package (the extension's `python/`). */
  readonly agentRoot: string;
  /** This window's private address (`unix:…`, `pipe:…`). */
  readonly localAddress: string;
  /** The TCP listener's address and token (for `tcp` and `container`). */
  readonly tcp?: { readonly address: string; readonly token: string };
  readonly tuning: AgentTuning;
}

function assignments(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${quotePosix(v)}`);
}

/** The text to copy for a choice (POSIX shell syntax). */
export function attachText(input: AttachTextInput, choice: AttachChoice): string {
  const tuning = assignments(tuningEnv(input.tuning));
  const run = (address: string) => ['python3', '-m', 'taskscope', 'run', '--connect', quotePosix(address), 'your_app.py'];
  switch (choice) {
    case 'local-run':
      return [`PYTHONPATH=${quotePosix(input.agentRoot)}`, ...tuning, ...run(input.localAddress)].join(' ');
    case 'local-env':
      return [
        'export',
        `PYTHONPATH=${quotePosix(bootstrapFolder(input.agentRoot))}\${PYTHONPATH:+:$PYTHONPATH}`,
        `TASKSCOPE_CONNECT=${quotePosix(input.localAddress)}`,
        ...tuning,
      ].join(' ');
    case 'tcp': {
      const { address, token } = requireTcp(input);
      return [`TASKSCOPE_TOKEN=${token}`, `PYTHONPATH=${quotePosix(input.agentRoot)}`, ...tuning, ...run(address)].join(' ');
    }
    case 'container': {
      const { address, token } = requireTcp(input);
      const env = [`PYTHONPATH=${CONTAINER_AGENT_DIR}`, `TASKSCOPE_TOKEN=${token}`, ...tuning].flatMap((a) => ['-e', a]);
      return [
        'docker', 'run', '--rm', '-it', '--network', 'host',
        '-v', quotePosix(`${input.agentRoot}:${CONTAINER_AGENT_DIR}:ro`),
        ...env,
        'your-image', ...run(address),
      ].join(' ');
    }
  }
}

function requireTcp(input: AttachTextInput): { address: string; token: string } {
  if (!input.tcp) throw new Error('the TCP listener is needed for this text');
  return input.tcp;
}

/** What the notification says once the text is on the clipboard. */
export function attachNotice(choice: AttachChoice): string {
  switch (choice) {
    case 'local-run':
    case 'local-env':
      return 'TaskScope: copied. Replace your_app.py with your program and run it in a terminal on this machine.';
    case 'tcp':
      return 'TaskScope: copied a command that connects over TCP to 127.0.0.1 with a token. Run it on this machine; replace your_app.py with your program.';
    case 'container':
      return (
        'TaskScope: copied a `docker run` line (podman takes the same). `--network host` makes 127.0.0.1 in the container this machine ' +
        `(Linux); the agent's folder is mounted read-only at ${CONTAINER_AGENT_DIR}. Replace your-image and your_app.py. ` +
        'For a container that is already running, or an image you build, copy the agent into a folder it can see.'
      );
  }
}
