/**
 * Path mappings (`taskscope.attach.pathMappings`): a program in a container, or on another
 * machine, reports its files where it sees them (`/app/server.py`); this window opens them
 * where the workspace has them. Each mapping turns a path under `remoteRoot` into the same
 * path under `localRoot`, as debugpy's `pathMappings` do. They are applied to every frame of
 * every message as it arrives (tasks, findings, results, recordings), so the model, the
 * views, the Problems panel and the linter's runtime evidence all see local paths.
 *
 * Pure: no `vscode` import.
 */

import * as path from 'path';

export interface PathMapping {
  readonly remoteRoot: string;
  readonly localRoot: string;
}

/** A local path for an agent's path; the path itself when no mapping applies. */
export type PathMapper = (file: string) => string;

export interface CompiledMappings {
  /** Undefined when there is no valid mapping (messages are then left as they are). */
  readonly mapper: PathMapper | undefined;
  /** What was wrong with the setting's entries, one line each (those entries are ignored). */
  readonly problems: readonly string[];
}

const WORKSPACE_FOLDER = '${workspaceFolder}';

/** Drops trailing separators, except a root's own (`/`, `C:\`). */
function trimEnd(root: string): string {
  const trimmed = root.replace(/[\\/]+$/, '');
  return trimmed === '' || /^[A-Za-z]:$/.test(trimmed) ? root.slice(0, trimmed.length + 1) : trimmed;
}

/**
 * Reads the setting's value. `${workspaceFolder}` in a `localRoot` is replaced by
 * `workspaceFolder` (an entry that uses it without a workspace is a problem). The longest
 * `remoteRoot` that contains a path wins.
 */
export function compilePathMappings(value: unknown, workspaceFolder: string | undefined, local: path.PlatformPath = path): CompiledMappings {
  const problems: string[] = [];
  const mappings: { remote: string; local: string; endsWithSep: boolean }[] = [];
  if (value === undefined || value === null) return { mapper: undefined, problems };
  if (!Array.isArray(value)) return { mapper: undefined, problems: ['taskscope.attach.pathMappings must be a list of { "remoteRoot", "localRoot" } objects'] };
  value.forEach((entry: unknown, i) => {
    const where = `taskscope.attach.pathMappings[${i}]`;
    const o = entry as { remoteRoot?: unknown; localRoot?: unknown } | null;
    if (typeof o !== 'object' || o === null || typeof o.remoteRoot !== 'string' || typeof o.localRoot !== 'string' || !o.remoteRoot || !o.localRoot) {
      problems.push(`${where} needs a non-empty "remoteRoot" and "localRoot" (ignored)`);
      return;
    }
    let localRoot = o.localRoot;
    if (localRoot.includes(WORKSPACE_FOLDER)) {
      if (workspaceFolder === undefined) {
        problems.push(`${where}: ${WORKSPACE_FOLDER} with no folder open (ignored)`);
        return;
      }
      localRoot = localRoot.split(WORKSPACE_FOLDER).join(workspaceFolder);
    }
    if (!local.isAbsolute(localRoot)) {
      problems.push(`${where}: "localRoot" must be an absolute path, not "${o.localRoot}" (ignored)`);
      return;
    }
    const remote = trimEnd(o.remoteRoot);
    mappings.push({ remote, local: trimEnd(localRoot), endsWithSep: /[\\/]$/.test(remote) });
  });
  if (mappings.length === 0) return { mapper: undefined, problems };
  mappings.sort((a, b) => b.remote.length - a.remote.length);
  const mapper: PathMapper = (file) => {
    for (const m of mappings) {
      if (file === m.remote) return m.local;
      const sep = file.charAt(m.remote.length);
      if (file.startsWith(m.remote) && (m.endsWithSep || sep === '/' || sep === '\\')) {
        const rest = file.slice(m.remote.length + (m.endsWithSep ? 0 : 1));
        return local.join(m.local, ...rest.split(/[\\/]+/).filter(Boolean));
      }
    }
    return file;
  };
  return { mapper, problems };
}

/** A frame as the protocol has it: an object with a string `file` and a numeric `line`. */
function isFrameLike(o: Record<string, unknown>): boolean {
  return typeof o.file === 'string' && typeof o.line === 'number';
}

/**
 * `message` with the `file` of every frame in it mapped (a copy where something changed; the
 * same objects where nothing did). Frames are found wherever they are: a task's site, stack
 * and await chain, an exception's traceback, a finding's evidence, a command's result.
 */
export function mapMessagePaths<T>(message: T, mapper: PathMapper): T {
  return mapValue(message, mapper) as T;
}

function mapValue(value: unknown, mapper: PathMapper): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const mapped = mapValue(item, mapper);
      if (mapped !== item) (out ??= value.slice())[i] = mapped;
    });
    return out ?? value;
  }
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(o)) {
    const item = o[key];
    const mapped = key === 'file' && isFrameLike(o) ? mapper(item as string) : mapValue(item, mapper);
    if (mapped !== item) (out ??= { ...o })[key] = mapped;
  }
  return out ?? o;
}
