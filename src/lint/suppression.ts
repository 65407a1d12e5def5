/**
 * Suppression comments, per line:
 *   `# taskscope: ignore[TSK001]`, `# taskscope: ignore[TSK001, TSK004]`, `# taskscope: ignore` (all rules);
 *   `# noqa: RUF006` (Ruff's dangling-task rule) silences TSK001, and `# noqa: TSK00n` works too.
 * A bare `# noqa` is left to the other linters: it does not silence TaskScope.
 */

import { isRuleCode, type RuleCode } from './rules';
import type { LineIndex } from './syntax';

const DIRECTIVE = /#[ \t]*(?:taskscope:[ \t]*ignore(?:\[([^\]\n]*)\])?|noqa:[ \t]*([A-Z]+[0-9]+(?:[ \t]*,[ \t]*[A-Z]+[0-9]+)*))/gi;
/** Codes of other tools that mean one of ours. */
const EQUIVALENT: Record<string, RuleCode> = { RUF006: 'TSK001' };

/** Line (0-based) -> the codes silenced there, or 'all'. */
export type Suppressions = Map<number, Set<RuleCode> | 'all'>;

export function findSuppressions(text: string, lines: LineIndex): Suppressions {
  const out: Suppressions = new Map();
  if (!text.includes('#')) return out;
  DIRECTIVE.lastIndex = 0;
  for (let m = DIRECTIVE.exec(text); m; m = DIRECTIVE.exec(text)) {
    const line = lines.position(m.index).line;
    const list = m[1] ?? m[2];
    if (list === undefined) {
      out.set(line, 'all');
      continue;
    }
    const codes = out.get(line);
    if (codes === 'all') continue;
    const set = codes ?? new Set<RuleCode>();
    for (const raw of list.split(',')) {
      const code = raw.trim().toUpperCase();
      if (isRuleCode(code)) set.add(code);
      else if (EQUIVALENT[code]) set.add(EQUIVALENT[code]);
    }
    out.set(line, set);
  }
  return out;
}

export function isSuppressed(s: Suppressions, code: RuleCode, lines: readonly number[]): boolean {
  return lines.some((l) => {
    const codes = s.get(l);
    return codes === 'all' || (codes !== undefined && codes.has(code));
  });
}
