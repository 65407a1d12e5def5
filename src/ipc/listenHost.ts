/**
 * The host the TCP listener binds (`taskscope.attach.listenHost`), and the address a program
 * connects to for each kind of host. Pure: no `vscode` import.
 *
 * - a loopback address (`127.0.0.1`, `::1`, `localhost`): programs on this machine, and
 *   containers that share its network;
 * - a wildcard (`0.0.0.0`, `::`): every interface; a program on this machine connects to
 *   127.0.0.1;
 * - any other address (a Docker bridge's gateway, `172.17.0.1`): that address only, which a
 *   program on this machine and a container on that bridge both reach.
 */

import * as net from 'net';
import type { Settings } from '../constants';

const SETTING: `taskscope.${keyof Settings}` = 'taskscope.attach.listenHost';

/** The host the listener binds unless the setting names another. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';

export type ListenHostCheck =
  | { readonly ok: true; readonly host: string }
  | { readonly ok: false; readonly host: typeof DEFAULT_LISTEN_HOST; readonly error: string };

/**
 * Checks the setting's value: an IP address (v4 or v6) or `localhost`. Anything else gives an
 * error that says so and the default host, so that the listener still starts where it is safe.
 */
export function checkListenHost(value: unknown): ListenHostCheck {
  if (value === undefined || value === null) return { ok: true, host: DEFAULT_LISTEN_HOST };
  const fail = (what: string): ListenHostCheck => ({
    ok: false,
    host: DEFAULT_LISTEN_HOST,
    error:
      `TaskScope: the setting ${SETTING} is ${what}: it takes an IP address (such as 127.0.0.1, 172.17.0.1, 0.0.0.0 or ::) ` +
      `or localhost. Listening on ${DEFAULT_LISTEN_HOST} instead.`,
  });
  if (typeof value !== 'string') return fail(`not a string (${JSON.stringify(value)})`);
  const host = value.trim();
  if (host === '') return fail('empty');
  if (host.toLowerCase() === 'localhost') return { ok: true, host: 'localhost' };
  // A bracketed IPv6 address ([::1]) is what people copy from URLs: take it without brackets.
  const bare = /^\[(.*)\]$/.exec(host)?.[1] ?? host;
  if (net.isIP(bare) === 0) return fail(`"${value}", which is not an IP address`);
  return { ok: true, host: bare };
}

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const wildcard = new net.BlockList();
wildcard.addAddress('0.0.0.0', 'ipv4');
wildcard.addAddress('::', 'ipv6');

function check(list: net.BlockList, host: string): boolean {
  const family = net.isIP(host);
  return family !== 0 && list.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** True for an address only this machine reaches (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || check(loopback, host);
}

/** True for an address that binds every interface (0.0.0.0, ::). */
export function isWildcardHost(host: string): boolean {
  return check(wildcard, host);
}

/** `tcp:HOST:PORT`, with an IPv6 address in brackets, as the agent takes it. */
export function formatTcpAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `tcp:[${host}]:${port}` : `tcp:${host}:${port}`;
}

/**
 * The address a program on this machine connects to, for a listener bound to `host`: the
 * host itself, or 127.0.0.1 for a wildcard (which covers IPv4 loopback; Node binds `::`
 * dual-stack).
 */
export function localTcpAddress(host: string, port: number): string {
  return formatTcpAddress(isWildcardHost(host) ? '127.0.0.1' : host, port);
}
