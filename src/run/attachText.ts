/**
 * The words "Attach a Program Started Elsewhere…" copies: a command line or environment that
 * starts a program with the agent connected to this window. Pure: no `vscode` import.
 *
 * - `local-run` / `local-env`: this machine, through the window's private socket;
 * - `tcp`: this machine, over TCP with a token (another user, a sandbox), to 127.0.0.1 or
 *   wherever `taskscope.attach.listenHost` puts the listener;
 * - `container`: a `docker run` (or `podman run`) line with the agent's folder mounted
 *   read-only and the token. While the listener is on loopback only, the container shares
 *   this machine's network (`--network host`), so that 127.0.0.1 there is 127.0.0.1 here;
 *   once the setting binds another address, the container stays on its bridge network and
 *   connects to that address (`host.docker.internal` for a wildcard). The agent takes a
 *   non-loopback `tcp:` address only with a token (docs/protocol.md), which the line gives.
 *
 * Each text carries the agent's settings (`tuningEnv`), as the Run command does.
 */

import { formatTcpAddress, isLoopbackHost, isWildcardHost, localTcpAddress } from '../ipc/listenHost';
import { AgentTuning, bootstrapFolder, quotePosix, quotePowerShell, tuningEnv } from './agentEnvironment';

export type AttachChoice = 'local-run' | 'local-env' | 'tcp' | 'container';

/** Where the `container` text mounts the agent's folder. */
export const CONTAINER_AGENT_DIR = '/opt/taskscope';

/** The name a container on a bridge network gives this machine, with `--add-host`. */
export const DOCKER_HOST_NAME = 'host.docker.internal';
const ADD_HOST_GATEWAY = `--add-host=${DOCKER_HOST_NAME}:host-gateway`;

/** The TCP listener, for the `tcp` and `container` texts. */
export interface TcpListener {
  /** The address it is bound to, as the system reports it (`127.0.0.1`, `0.0.0.0`, `172.17.0.1`). */
  readonly host: string;
  readonly port: number;
  readonly token: string;
}

export interface AttachTextInput {
  /** The folder that holds the `taskscope` package (the extension's `python/`). */
  readonly agentRoot: string;
  /** This window's private address (`unix:…`, `pipe:…`). */
  readonly localAddress: string;
  /** The TCP listener (for `tcp` and `container`). */
  readonly tcp?: TcpListener;
  readonly tuning: AgentTuning;
}

/** How a container reaches the listener. */
export type ContainerRoute =
  | { readonly network: 'host'; readonly address: string }
  | { readonly network: 'bridge'; readonly address: string; readonly addHostGateway: boolean };

/**
 * A listener on loopback only is reached from a container that shares this machine's
 * network; one on a wildcard, from a bridge network through `host.docker.internal` (mapped to
 * the bridge's gateway by `--add-host`); one on another address, at that address.
 */
export function containerRoute(host: string, port: number): ContainerRoute {
  if (isLoopbackHost(host)) return { network: 'host', address: localTcpAddress(host, port) };
  if (isWildcardHost(host)) return { network: 'bridge', address: `tcp:${DOCKER_HOST_NAME}:${port}`, addHostGateway: true };
  return { network: 'bridge', address: formatTcpAddress(host, port), addHostGateway: false };
}

function assignments(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${quotePosix(v)}`);
}

/** The shell a text is written for: POSIX shells, or PowerShell (Windows' default). */
export type AttachShell = 'posix' | 'powershell';

/**
 * The text to copy for a choice, for `shell`. PowerShell has no `NAME=value command` form:
 * its texts set `$env:` variables for the rest of the terminal's session, then run
 * `python`; the container line is the same `docker run`, quoted for PowerShell.
 */
export function attachText(input: AttachTextInput, choice: AttachChoice, shell: AttachShell = 'posix'): string {
  return shell === 'powershell' ? powerShellText(input, choice) : posixText(input, choice);
}

function powerShellText(input: AttachTextInput, choice: AttachChoice): string {
  const q = quotePowerShell;
  const set = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `$env:${k}=${q(v)}`);
  const tuning = set(tuningEnv(input.tuning));
  const run = (address: string) => ['python', '-m', 'taskscope', 'run', '--connect', q(address), 'your_app.py'].join(' ');
  switch (choice) {
    case 'local-run':
      return [...set({ PYTHONPATH: input.agentRoot }), ...tuning, run(input.localAddress)].join('; ');
    case 'local-env':
      return [
        // The bootstrap first; the folders already there after it (none: no empty entry).
        `$env:PYTHONPATH=${q(bootstrapFolder(input.agentRoot))} + $(if ($env:PYTHONPATH) { ';' + $env:PYTHONPATH })`,
        ...set({ TASKSCOPE_CONNECT: input.localAddress }),
        ...tuning,
      ].join('; ');
    case 'tcp': {
      const { host, port, token } = requireTcp(input);
      return [...set({ TASKSCOPE_TOKEN: token, PYTHONPATH: input.agentRoot }), ...tuning, run(localTcpAddress(host, port))].join('; ');
    }
    case 'container':
      return containerLine(input, q);
  }
}

function posixText(input: AttachTextInput, choice: AttachChoice): string {
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
      const { host, port, token } = requireTcp(input);
      return [`TASKSCOPE_TOKEN=${token}`, `PYTHONPATH=${quotePosix(input.agentRoot)}`, ...tuning, ...run(localTcpAddress(host, port))].join(' ');
    }
    case 'container':
      return containerLine(input, quotePosix);
  }
}

/** The `docker run` line (the same for every shell but for its quoting). */
function containerLine(input: AttachTextInput, quote: (word: string) => string): string {
  const { host, port, token } = requireTcp(input);
  const route = containerRoute(host, port);
  const network = route.network === 'host' ? ['--network', 'host'] : route.addHostGateway ? [ADD_HOST_GATEWAY] : [];
  const tuning = Object.entries(tuningEnv(input.tuning)).map(([k, v]) => `${k}=${v}`);
  const env = [`PYTHONPATH=${CONTAINER_AGENT_DIR}`, `TASKSCOPE_TOKEN=${token}`, ...tuning].flatMap((a) => ['-e', quote(a)]);
  return [
    'docker', 'run', '--rm', '-it', ...network,
    '-v', quote(`${input.agentRoot}:${CONTAINER_AGENT_DIR}:ro`),
    ...env,
    'your-image', 'python3', '-m', 'taskscope', 'run', '--connect', quote(route.address), 'your_app.py',
  ].join(' ');
}

function requireTcp(input: AttachTextInput): TcpListener {
  if (!input.tcp) throw new Error('the TCP listener is needed for this text');
  return input.tcp;
}

/** A choice of the quick pick: its words depend on where the TCP listener is (or will be). */
export interface AttachChoiceItem {
  readonly label: string;
  readonly description: string;
  readonly choice: AttachChoice;
}

/**
 * The quick pick's choices, for a listener on `listenHost` (the setting's host: the listener
 * may not run yet).
 */
export function attachChoices(listenHost: string): AttachChoiceItem[] {
  const loopback = isLoopbackHost(listenHost);
  const where = isWildcardHost(listenHost) ? 'every interface' : listenHost;
  return [
    { label: '$(terminal) Command line, this machine', description: 'python -m taskscope run, through this window\'s private socket', choice: 'local-run' },
    { label: '$(symbol-variable) Environment variables, this machine', description: 'loads the agent into any python you start afterwards', choice: 'local-env' },
    {
      label: '$(plug) Command line over TCP with a token',
      description: loopback
        ? `another user or a sandbox on this machine: ${listenHost} only`
        : `another user or a sandbox on this machine; listening on ${where} (taskscope.attach.listenHost)`,
      choice: 'tcp',
    },
    loopback
      ? {
          label: '$(package) Container sharing this machine\'s network',
          description: 'docker run --network host, the agent mounted, TCP with a token; a bridge network needs taskscope.attach.listenHost',
          choice: 'container',
        }
      : {
          label: '$(package) Container on a bridge network',
          description: `docker run, connecting to ${isWildcardHost(listenHost) ? DOCKER_HOST_NAME : listenHost}, the agent mounted, TCP with a token`,
          choice: 'container',
        },
  ];
}

/** What the notification says once the text is on the clipboard (`listener`: for `tcp` and `container`). */
export function attachNotice(choice: AttachChoice, listener?: TcpListener): string {
  const elsewhere = 'For a container that is already running, or an image you build, copy the agent into a folder it can see.';
  switch (choice) {
    case 'local-run':
    case 'local-env':
      return 'TaskScope: copied. Replace your_app.py with your program and run it in a terminal on this machine.';
    case 'tcp': {
      const address = listener ? localTcpAddress(listener.host, listener.port).slice('tcp:'.length) : '127.0.0.1';
      return `TaskScope: copied a command that connects over TCP to ${address} with a token. Run it on this machine; replace your_app.py with your program.`;
    }
    case 'container': {
      const route = listener ? containerRoute(listener.host, listener.port) : undefined;
      const mounted = `the agent's folder is mounted read-only at ${CONTAINER_AGENT_DIR}. Replace your-image and your_app.py.`;
      if (!route || route.network === 'host') {
        return (
          'TaskScope: copied a `docker run` line (podman takes the same). `--network host` makes 127.0.0.1 in the container this machine ' +
          `(Linux); ${mounted} A container on a bridge network cannot reach this window while it listens on loopback only: for one, ` +
          'set `taskscope.attach.listenHost` to the bridge\'s gateway address (often 172.17.0.1) or 0.0.0.0. ' +
          elsewhere
        );
      }
      const to = route.addHostGateway
        ? `${DOCKER_HOST_NAME}, which \`${ADD_HOST_GATEWAY}\` maps to this machine (Docker 20.10 or later); this window listens on every interface`
        : `${listener!.host}, where this window listens`;
      return (
        `TaskScope: copied a \`docker run\` line for a container on a bridge network: it connects with the token to ${to} ` +
        `(\`taskscope.attach.listenHost\`); ${mounted} ${elsewhere}`
      );
    }
  }
}
