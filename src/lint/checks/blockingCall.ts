/**
 * TSK004: a blocking call in an async function (not in a nested `def` or `lambda`, which may run
 * in a thread). Library calls count only when their module is imported, so a local `requests`
 * dict's `.get` is not taken for the HTTP library; `open` and `input` only while not redefined.
 */

import { type CallSite, CheckContext } from './checkContext';
import { isImported } from '../moduleContext';

const HTTP = 'use an async HTTP client (aiohttp, `httpx.AsyncClient`) or `await asyncio.to_thread(...)`';
const SUBPROCESS = 'use `await asyncio.create_subprocess_exec(...)` (or `_shell`)';
const FILE = 'do file I/O in a thread with `await asyncio.to_thread(...)` (or use aiofiles)';

/** Qualified name -> the way out, for library functions. */
const BLOCKING: Record<string, string> = {
  'time.sleep': 'use `await asyncio.sleep(...)`',
  'urllib.request.urlopen': HTTP,
  'urllib.request.urlretrieve': HTTP,
  'subprocess.run': SUBPROCESS,
  'subprocess.call': SUBPROCESS,
  'subprocess.check_call': SUBPROCESS,
  'subprocess.check_output': SUBPROCESS,
  'subprocess.getoutput': SUBPROCESS,
  'subprocess.getstatusoutput': SUBPROCESS,
  'os.system': SUBPROCESS,
};
for (const lib of ['requests', 'httpx']) {
  for (const verb of ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'request']) BLOCKING[`${lib}.${verb}`] = HTTP;
}
export const BUILTIN_BLOCKING: Record<string, string> = { open: FILE, input: 'read input in a thread with `await asyncio.to_thread(input, ...)`' };
/** File methods (pathlib and friends) that block whatever the receiver; an awaited one is not flagged. */
export const FILE_METHODS = new Set(['read_text', 'write_text', 'read_bytes', 'write_bytes']);

/** Callee names a blocking call can be found by (aliases are added from the imports). */
export const BLOCKING_NAMES = [...new Set([...Object.keys(BLOCKING).map((q) => q.slice(q.lastIndexOf('.') + 1)), ...Object.keys(BUILTIN_BLOCKING), ...FILE_METHODS])];
export const BLOCKING_QUALIFIED = new Set(Object.keys(BLOCKING));

export function checkBlockingCall(cc: CheckContext, call: CallSite): void {
  const advice = blockingAdvice(cc, call);
  if (!advice) return;
  if (call.at.up?.type === 'await') return;
  if (!cc.scope(call.at).isAsync || cc.shadowed(call.at, (call.dotted ?? call.name).split('.')[0])) return;
  const shown = call.dotted ?? `.${call.name}`;
  cc.report('TSK004', call.at.node, `Blocking call in an async function: \`${shown}()\` stops the event loop, and every other task with it, until it returns. Instead, ${advice}.`);
}

function blockingAdvice(cc: CheckContext, call: CallSite): string | undefined {
  const { dotted, qualified, name, receiver } = call;
  if (receiver && FILE_METHODS.has(name)) return FILE;
  if (!dotted || !qualified) return undefined;
  if (BLOCKING[qualified] && isImported(cc.module, dotted)) return BLOCKING[qualified];
  if (!receiver && BUILTIN_BLOCKING[dotted] && !cc.module.imports.has(dotted) && !cc.module.definedNames.has(dotted)) return BUILTIN_BLOCKING[dotted];
  return undefined;
}
