// Child processes: spawn each in its own process group, remember it, and kill whole trees
// (group plus every descendant found in /proc) on cleanup, so that nothing is left behind.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

/** Every live child started through this module. */
const tracked = new Set();

/**
 * Starts a process in a new process group and tracks it until it exits.
 * `opts.logFile`: append stdout+stderr there; `opts.echo`: also copy them to our stdout.
 * Returns the ChildProcess, with `exited` (a Promise of {code, signal}) and `output()` (what
 * it printed so far, when neither logFile-only nor inherit was asked; kept to the last 1 MB).
 */
function start(cmd, args, opts = {}) {
  const { logFile, echo = false, cwd, env, input } = opts;
  const child = spawn(cmd, args, {
    cwd,
    env: env || process.env,
    detached: true, // own process group: kill(-pid) reaches its helpers too
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  tracked.add(child);
  let buffer = '';
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  if (log) log.write(`\n$ ${[cmd, ...args].join(' ')}\n`);
  const onData = (chunk) => {
    const text = chunk.toString();
    buffer += text;
    if (buffer.length > 1 << 20) buffer = buffer.slice(-(1 << 20));
    if (log) log.write(text);
    if (echo) process.stdout.write(text);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  if (input !== undefined) child.stdin.end(input);
  child.output = () => buffer;
  child.exited = new Promise((resolve) => {
    child.on('error', (err) => {
      tracked.delete(child);
      buffer += `\n${err.message}\n`;
      if (log) log.end(`\n${err.message}\n`);
      resolve({ code: 127, signal: null, error: err });
    });
    child.on('close', (code, signal) => {
      tracked.delete(child);
      if (log) log.end();
      resolve({ code, signal });
    });
  });
  return child;
}

/**
 * Runs a command to its end. Resolves to {code, signal, output}; never rejects (a command
 * that cannot start resolves with code 127 and the reason in `output`).
 */
async function run(cmd, args, opts = {}) {
  const child = start(cmd, args, opts);
  const { code, signal } = await child.exited;
  return { code, signal, output: child.output() };
}

/** Like run(), but throws an Error naming the command and showing its last lines on failure. */
async function runOrThrow(cmd, args, opts = {}) {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    const tail = result.output.trim().split('\n').slice(-25).join('\n');
    const where = opts.logFile ? ` (full log: ${path.relative(process.cwd(), opts.logFile)})` : '';
    throw new Error(
      `\`${[cmd, ...args].join(' ')}\` failed with ${result.signal || `exit code ${result.code}`}${where}\n${tail}`,
    );
  }
  return result;
}

/** Parent pid of every process, read from /proc (Linux). */
function processTable() {
  const parents = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ..." — comm may hold spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(rest[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return parents;
}

/** Every descendant pid of `pid` (children, grandchildren, ...). */
function descendants(pid) {
  const parents = processTable();
  const found = [];
  let frontier = [pid];
  while (frontier.length) {
    const next = [];
    for (const [child, parent] of parents) if (frontier.includes(parent)) next.push(child);
    found.push(...next);
    frontier = next;
  }
  return found;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/**
 * Ends a process tree: SIGTERM to the process group and to every descendant (some, like
 * terminals, live in sessions of their own), then SIGKILL to whatever is left after `graceMs`.
 */
async function killTree(pid, graceMs = 5000) {
  if (!pid) return;
  const pids = [pid, ...descendants(pid)];
  signal(-pid, 'SIGTERM');
  for (const p of pids) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(alive)) await sleep(100);
  // Late-born descendants of anything still alive get the hard stop too.
  const left = pids.filter(alive);
  for (const p of left) for (const d of descendants(p)) if (!pids.includes(d)) pids.push(d);
  signal(-pid, 'SIGKILL');
  for (const p of pids) signal(p, 'SIGKILL');
}

/** Kills every tracked child tree (the latest started first). */
async function killAll(graceMs = 5000) {
  const children = [...tracked].reverse();
  await Promise.all(children.map((c) => killTree(c.pid, graceMs)));
}

const cleanups = [];
let cleaning = null;

/** Registers work to do before exiting (close the browser, ...); run newest first. */
function onCleanup(fn) {
  cleanups.push(fn);
}

/** Forgets finished cleanups, so that a later stage (the next test tier) can register its own. */
function resetCleanup() {
  cleanups.length = 0;
  cleaning = null;
}

/** Runs the registered cleanups, then kills every tracked child. Safe to call twice. */
function cleanup() {
  if (!cleaning) {
    cleaning = (async () => {
      for (const fn of cleanups.splice(0).reverse()) {
        try {
          await withTimeout(Promise.resolve().then(fn), 10000, 'cleanup step');
        } catch (err) {
          console.error(`cleanup: ${err.message}`);
        }
      }
      await killAll();
    })();
  }
  return cleaning;
}

/**
 * Makes SIGINT, SIGTERM and SIGHUP (and the end of the parent process) end the program after
 * cleanup (exit 130/143/129), and kills the tracked children if the program exits any other way.
 */
function exitOnSignals() {
  const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const [sig, code] of Object.entries(codes)) {
    process.on(sig, () => {
      if (cleaning) return; // a second Ctrl-C while cleaning: keep cleaning
      console.error(`\n${sig}: stopping everything started here...`);
      cleanup().finally(() => process.exit(code));
    });
  }
  // Whoever started us (npm, a shell) went away without a signal reaching us: stop too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent && !cleaning) {
      console.error('\nthe parent process ended: stopping everything started here...');
      cleanup().finally(() => process.exit(129));
    }
  }, 1000).unref();
  process.on('exit', () => {
    for (const c of tracked) {
      for (const p of descendants(c.pid)) signal(p, 'SIGKILL');
      signal(-c.pid, 'SIGKILL');
    }
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with "<what> timed out after Ns" unless `promise` settles within `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

module.exports = { start, run, runOrThrow, killTree, killAll, onCleanup, cleanup, resetCleanup, exitOnSignals, descendants, sleep, withTimeout };
