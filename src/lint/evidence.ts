/**
 * Runtime evidence for lint findings: what the agent saw happen to tasks created at a line
 * (dropped while pending, destroyed while pending, exceptions never retrieved, the loop blocked
 * there). A finding at such a line says so ("seen at runtime: 3 tasks destroyed while
 * pending"); evidence at a line with no finding is a case the linter missed, worth adding to the
 * corpus. Pure: no `vscode` import.
 */

import * as path from 'path';
import type { Finding, RuleCode } from './rules';

/** Event kinds of the agent's protocol (docs/protocol.md, `event`), and how a count of each reads. */
const PHRASES: Record<string, (n: number) => string> = {
  'fire-and-forget': (n) => `${n} ${n === 1 ? 'task' : 'tasks'} dropped while pending`,
  'destroyed-pending': (n) => `${n} ${n === 1 ? 'task' : 'tasks'} destroyed while pending`,
  'exception-never-retrieved': (n) => `${n} task ${n === 1 ? 'exception' : 'exceptions'} never retrieved`,
  'loop-blocked': (n) => `the event loop blocked here ${n === 1 ? 'once' : `${n} times`}`,
};
/** Which lint rules each kind of event bears on. */
const RULES_FOR_KIND: Record<string, readonly RuleCode[]> = {
  'fire-and-forget': ['TSK001'],
  'destroyed-pending': ['TSK001', 'TSK002'],
  'exception-never-retrieved': ['TSK001'],
  'loop-blocked': ['TSK004'],
};

export interface EvidenceRecord {
  readonly file: string;
  /** 1-based, as the agent reports lines. */
  readonly line: number;
  readonly kind: string;
  readonly count: number;
}

export class RuntimeEvidence {
  /** Normalized file -> line -> kind -> count. */
  private readonly byFile = new Map<string, Map<number, Map<string, number>>>();

  /** Records that `count` events of `kind` happened for tasks created at `file`:`line` (1-based); counts add up. */
  record(file: string, line: number, kind: string, count = 1): void {
    const key = normalize(file);
    let lines = this.byFile.get(key);
    if (!lines) this.byFile.set(key, (lines = new Map()));
    let kinds = lines.get(line);
    if (!kinds) lines.set(line, (kinds = new Map()));
    kinds.set(kind, (kinds.get(kind) ?? 0) + count);
  }

  has(file: string): boolean {
    return this.byFile.has(normalize(file));
  }

  clear(): void {
    this.byFile.clear();
  }

  /** The findings, with "seen at runtime: ..." added to those at lines with evidence that bears on their rule. */
  annotate(file: string, findings: readonly Finding[]): Finding[] {
    const lines = this.byFile.get(normalize(file));
    if (!lines) return [...findings];
    return findings.map((f) => {
      const kinds = lines.get(f.line + 1);
      if (!kinds) return f;
      const seen = [...kinds]
        .filter(([kind]) => (RULES_FOR_KIND[kind] ?? [f.code]).includes(f.code))
        .map(([kind, n]) => (PHRASES[kind] ?? ((c: number) => `${c} ${kind}`))(n));
      return seen.length ? { ...f, message: `${f.message} (seen at runtime: ${seen.join('; ')})` } : f;
    });
  }

  /** Evidence at lines where the linter found nothing: cases for the corpus (test/lint/runtime_*.py). */
  unmatched(file: string, findings: readonly Finding[]): EvidenceRecord[] {
    const lines = this.byFile.get(normalize(file));
    if (!lines) return [];
    const flagged = new Set(findings.map((f) => f.line + 1));
    const out: EvidenceRecord[] = [];
    for (const [line, kinds] of lines) {
      if (flagged.has(line)) continue;
      for (const [kind, count] of kinds) if (RULES_FOR_KIND[kind]) out.push({ file, line, kind, count });
    }
    return out.sort((a, b) => a.line - b.line);
  }
}

function normalize(file: string): string {
  const p = path.normalize(file);
  return process.platform === 'win32' || process.platform === 'darwin' ? p.toLowerCase() : p;
}
