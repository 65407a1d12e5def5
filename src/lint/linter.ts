/**
 * The linter: Python text in, findings out. Pure TypeScript over tree-sitter, no `vscode`.
 *
 * A module is checked one top-level statement at a time (the statements of a class body count
 * one by one). Candidates are found with one quick scan of the text (candidates.ts) and
 * confirmed on the syntax tree, so the cost follows the number of candidates rather than the
 * size of the tree. A `LintDocument` keeps its tree and reparses
 * only what an edit touched, and reuses the findings of every statement whose text and module
 * context did not change, so a one-line edit re-lints in a few milliseconds.
 */

import { ADDS, AWAITABLE, BLOCKS, type Candidate, CREATES, EXCEPT, findCandidates, SUPPRESS } from './candidates';
import { checkAwaitable } from './checks/neverAwaited';
import { checkBlockingCall } from './checks/blockingCall';
import { CheckContext, callSiteAt, type RawFinding, type Unit } from './checks/checkContext';
import { checkTaskCreation, checkTaskSetAdd, isTaskCreation } from './checks/danglingTask';
import { checkExceptClause, checkSuppress } from './checks/swallowedCancel';
import { isProvablyKept } from './fastPath';
import { type Fix, fixesFor } from './fixes';
import { type OutlineRange, type OutlineUnit, outline } from './outline';
import { buildModuleContext, type ModuleContext } from './moduleContext';
import { Edit, type Parser, type Tree, createPythonParser } from './parser';
import { type Finding, RULES, type RuleCode, type SeveritySetting } from './rules';
import { findSuppressions, isSuppressed } from './suppression';
import { LineIndex, type Node } from './syntax';

export interface LintOptions {
  /** Severity per rule, or "off"; rules not named keep their default severity. */
  readonly rules?: Partial<Record<RuleCode, SeveritySetting>>;
  /**
   * `Linter.lint` only: parse the whole text, so that any syntax error is reported. By default
   * only the statements that hold a candidate are parsed, and a syntax error elsewhere goes
   * unnoticed (it cannot change the findings).
   */
  readonly checkSyntax?: boolean;
}

export interface SyntaxProblem {
  /** 0-based. */
  readonly line: number;
  readonly column: number;
}

export interface LintResult {
  readonly findings: Finding[];
  /** Where the text first fails to parse; tree-sitter recovers and the rest is still checked. */
  readonly syntaxError?: SyntaxProblem;
}

export class Linter {
  private constructor(private readonly parser: Parser) {}

  /** `wasmDir`: where `web-tree-sitter.wasm` and `tree-sitter-python.wasm` are (default: next to this code). */
  static async create(options: { wasmDir?: string } = {}): Promise<Linter> {
    return new Linter(await createPythonParser(options.wasmDir));
  }

  /**
   * Checks a whole text. Only the statements with something to look at are parsed (see
   * `LintDocument.lint`), unless `checkSyntax` asks for a parse of the whole text, which also
   * finds syntax errors elsewhere; the findings are the same either way.
   */
  lint(text: string, options: LintOptions = {}): LintResult {
    const doc = this.open(text);
    try {
      return options.checkSyntax ? doc.lintWholeTree(options) : doc.lint(options);
    } finally {
      doc.dispose();
    }
  }

  /** The quick fixes for a finding made on `text`. */
  fixes(text: string, finding: Finding): Fix[] {
    const doc = this.open(text);
    try {
      return doc.fixes(finding);
    } finally {
      doc.dispose();
    }
  }

  /** A document to re-lint as it changes. */
  open(text: string): LintDocument {
    return new LintDocument(this.parser, text);
  }

  dispose(): void {
    this.parser.delete();
  }
}

interface CachedUnit {
  readonly contextKey: string;
  /** Offsets relative to the statement's start. */
  readonly findings: readonly RawFinding[];
}

/**
 * A document that changes. Incremental at two levels:
 * - statements: `lint()` re-checks only the statements (from the outline.ts scan) whose text or
 *   module context changed, parsing just those (whole lines, end to end); the findings of
 *   the others are reused;
 * - syntax tree: the whole tree, needed for quick fixes and for text the outline scan cannot
 *   split, is kept up to date with `tree.edit` and an incremental reparse, when it is needed.
 */
export class LintDocument {
  private tree: Tree | undefined;
  /** The text `tree` was parsed from. */
  private treeText = '';
  private cache = new Map<string, CachedUnit>();

  constructor(
    private readonly parser: Parser,
    private current: string,
  ) {}

  get text(): string {
    return this.current;
  }

  update(text: string): void {
    this.current = text;
  }

  lint(options: LintOptions = {}): LintResult {
    const text = this.current;
    const module = buildModuleContext(text);
    const candidates = findCandidates(text, module);
    const statements = candidates.length ? outline(text) : [];
    if (!statements) return this.lintWholeTree(options, module, candidates);
    const fresh = new Map<string, CachedUnit>();
    const raw: RawFinding[] = [];
    const missing: { unit: OutlineUnit; key: string }[] = [];
    let c = 0;
    for (const unit of statements) {
      while (c < candidates.length && candidates[c].offset < unit.start) c++;
      if (c >= candidates.length) break;
      if (candidates[c].offset >= unit.end) continue;
      // Nothing to look at once the tasks that the text alone shows are kept are set aside.
      let open = false;
      for (let i = c; i < candidates.length && candidates[i].offset < unit.end && !open; i++) {
        const { offset, flags } = candidates[i];
        open = flags !== CREATES || !isProvablyKept(text, unit, offset, module);
      }
      if (!open) continue;
      const key = `${unit.headers.length ? 'class' : 'module'}\u0000${text.slice(unit.start, unit.end)}`;
      const cached = this.cache.get(key) ?? fresh.get(key);
      if (cached && cached.contextKey === module.key) {
        fresh.set(key, cached);
        for (const f of cached.findings) raw.push({ ...f, start: f.start + unit.start, end: f.end + unit.start });
      } else {
        missing.push({ unit, key });
      }
    }
    if (missing.length) {
      // Parse just those statements (and the headers of their classes), put end to end: their
      // lines are whole, so the excerpt is Python too. Offsets are mapped back afterwards.
      const excerpt = new Excerpt(text, missing.map((m) => m.unit));
      const tree = this.parser.parse(input(excerpt.text), null);
      try {
        if (!tree || tree.rootNode.hasError) return this.lintWholeTree(options, module, candidates);
        const found = checkTree(excerpt.text, tree.rootNode, module, excerpt.candidates(candidates))
          .map((f) => ({ ...f, start: excerpt.toOriginal(f.start), end: excerpt.toOriginal(f.end - 1) + 1 }))
          .sort((x, y) => x.start - y.start);
        // Hand each finding to its statement, for the cache.
        let f = 0;
        for (const { unit, key } of missing) {
          const own: RawFinding[] = [];
          while (f < found.length && found[f].start < unit.end) {
            if (found[f].start >= unit.start) own.push({ ...found[f], start: found[f].start - unit.start, end: found[f].end - unit.start });
            f++;
          }
          fresh.set(key, { contextKey: module.key, findings: own });
        }
        raw.push(...found);
      } finally {
        tree?.delete();
      }
    }
    this.cache = fresh;
    return { findings: toFindings(text, raw, options) };
  }

  /** Lints with the whole syntax tree: reports the first syntax error, if any. */
  lintWholeTree(options: LintOptions = {}, module = buildModuleContext(this.current), candidates = findCandidates(this.current, module)): LintResult {
    const root = this.wholeTree().rootNode;
    const raw = checkTree(this.current, root, module, candidates);
    return { findings: toFindings(this.current, raw, options), syntaxError: root.hasError ? firstError(root) : undefined };
  }

  /** The quick fixes for a finding of the last `lint()` of this text. */
  fixes(finding: Finding): Fix[] {
    return fixesFor(this.wholeTree().rootNode, this.current, finding);
  }

  dispose(): void {
    this.tree?.delete();
    this.tree = undefined;
  }

  /** The whole tree for the current text: parsed once, then edited and reparsed incrementally. */
  private wholeTree(): Tree {
    const text = this.current;
    if (!this.tree) {
      this.tree = parse(this.parser, text);
      this.treeText = text;
      return this.tree;
    }
    const old = this.treeText;
    if (text === old) return this.tree;
    let start = 0;
    const min = Math.min(old.length, text.length);
    while (start < min && old.charCodeAt(start) === text.charCodeAt(start)) start++;
    let oldEnd = old.length;
    let newEnd = text.length;
    while (oldEnd > start && newEnd > start && old.charCodeAt(oldEnd - 1) === text.charCodeAt(newEnd - 1)) {
      oldEnd--;
      newEnd--;
    }
    this.tree.edit(
      new Edit({
        startIndex: start,
        oldEndIndex: oldEnd,
        newEndIndex: newEnd,
        startPosition: pointAt(old, start),
        oldEndPosition: pointAt(old, oldEnd),
        newEndPosition: pointAt(text, newEnd),
      }),
    );
    const next = parse(this.parser, text, this.tree);
    this.tree.delete();
    this.tree = next;
    this.treeText = text;
    return next;
  }
}

/**
 * tree-sitter's input, in small pieces. Given a whole string, web-tree-sitter copies up to 5,000
 * characters into WebAssembly each time the parser reads somewhere new, and an incremental
 * reparse reads somewhere new at every statement it reuses.
 */
function input(text: string): (index: number) => string {
  return (index) => text.slice(index, index + 128);
}

function parse(parser: Parser, text: string, old?: Tree): Tree {
  const tree = parser.parse(input(text), old);
  if (!tree) throw new Error('TaskScope lint: tree-sitter returned no tree');
  return tree;
}

/** Checks every unit of the tree that holds a candidate. */
function checkTree(text: string, root: Node, module: ModuleContext, candidates: readonly Candidate[]): RawFinding[] {
  const raw: RawFinding[] = [];
  let next = 0;
  for (const unit of units(root)) {
    const start = unit.node.startIndex;
    const end = unit.node.endIndex;
    while (next < candidates.length && candidates[next].offset < start) next++;
    const first = next;
    while (next < candidates.length && candidates[next].offset < end) next++;
    if (first < next) raw.push(...checkUnit(text, module, unit, candidates.slice(first, next)));
  }
  return raw;
}

/**
 * Some statements of a module (with the headers of the classes they are in, each once), put
 * end to end, and the way back from an offset in the excerpt to one in the module.
 */
class Excerpt {
  readonly text: string;
  /** Start in the module, start in the excerpt, length: one per piece, in order. */
  private readonly pieces: { from: number; at: number; length: number }[] = [];

  constructor(source: string, statements: readonly OutlineUnit[]) {
    const chosen: OutlineRange[] = [];
    const seen = new Set<number>();
    for (const unit of statements) {
      for (const h of unit.headers) {
        if (!seen.has(h.start)) chosen.push(h);
        seen.add(h.start);
      }
      chosen.push(unit);
    }
    let at = 0;
    const parts: string[] = [];
    for (const r of chosen) {
      this.pieces.push({ from: r.start, at, length: r.end - r.start });
      parts.push(source.slice(r.start, r.end));
      at += r.end - r.start;
    }
    this.text = parts.join('');
  }

  /** The candidates inside the pieces, at their offsets in the excerpt. */
  candidates(candidates: readonly Candidate[]): Candidate[] {
    const out: Candidate[] = [];
    let p = 0;
    for (const c of candidates) {
      while (p < this.pieces.length && c.offset >= this.pieces[p].from + this.pieces[p].length) p++;
      if (p >= this.pieces.length) break;
      const piece = this.pieces[p];
      if (c.offset >= piece.from) out.push({ ...c, offset: c.offset - piece.from + piece.at });
    }
    return out;
  }

  toOriginal(offset: number): number {
    let lo = 0;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.pieces[mid].at <= offset) lo = mid;
      else hi = mid - 1;
    }
    const piece = this.pieces[lo];
    return offset - piece.at + piece.from;
  }
}

function pointAt(text: string, offset: number): { row: number; column: number } {
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: offset - lineStart };
}

/** The top-level statements, with each class body opened up into its statements. */
function units(root: Node): Unit[] {
  const out: Unit[] = [];
  const visit = (nodes: (Node | null)[], outer: Unit['outer']) => {
    for (const node of nodes) {
      if (!node || node.type === 'comment') continue;
      const definition = node.type === 'decorated_definition' ? node.childForFieldName('definition') : node;
      const body = definition?.type === 'class_definition' ? definition.childForFieldName('body') : null;
      if (body) visit(body.children, 'class');
      else out.push({ node, outer });
    }
  };
  visit(root.children, 'module');
  return out;
}

function checkUnit(text: string, module: ModuleContext, unit: Unit, candidates: Candidate[]): RawFinding[] {
  const cc = new CheckContext(text, module, unit);
  for (const { offset, flags } of candidates) {
    if (flags & EXCEPT) {
      checkExceptClause(cc, offset);
      continue;
    }
    const call = callSiteAt(cc, offset);
    if (!call) continue;
    if (flags & CREATES && isTaskCreation(cc, call)) checkTaskCreation(cc, call);
    if (flags & AWAITABLE) checkAwaitable(cc, call);
    if (flags & BLOCKS) checkBlockingCall(cc, call);
    if (flags & SUPPRESS) checkSuppress(cc, call);
    if (flags & ADDS) checkTaskSetAdd(cc, call);
  }
  return cc.findings;
}

function toFindings(text: string, raw: RawFinding[], options: LintOptions): Finding[] {
  const lines = new LineIndex(text);
  const suppressions = findSuppressions(text, lines);
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const f of raw) {
    const setting = options.rules?.[f.code] ?? RULES[f.code].defaultSeverity;
    if (setting === 'off') continue;
    const id = `${f.code}:${f.start}:${f.end}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const start = lines.position(f.start);
    const end = lines.position(f.end);
    if (isSuppressed(suppressions, f.code, [start.line, end.line])) continue;
    out.push({ code: f.code, severity: setting, message: f.message, line: start.line, column: start.column, endLine: end.line, endColumn: end.column, start: f.start, end: f.end });
  }
  return out.sort((a, b) => a.start - b.start || a.code.localeCompare(b.code));
}

/** The first place that does not parse: the leftmost ERROR or MISSING node. */
function firstError(root: Node): SyntaxProblem {
  let node = root;
  for (;;) {
    if (node.type === 'ERROR' || node.isMissing) return { line: node.startPosition.row, column: node.startPosition.column };
    const child = node.children.find((c) => c && (c.hasError || c.isMissing || c.type === 'ERROR'));
    if (!child) return { line: node.startPosition.row, column: node.startPosition.column };
    node = child;
  }
}
