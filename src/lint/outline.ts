/**
 * The statement outline of a Python module, from a quick scan of its text (strings, comments,
 * brackets and line continuations are understood; nothing else is): the top-level statements,
 * with class bodies opened up into their statements, each with the class headers around it.
 *
 * The linter uses it to hand tree-sitter only the statements that hold a candidate and have
 * changed (their lines put end to end, with the headers of their classes, are Python too). If
 * the scan meets something it does not understand, or the excerpt has a syntax error, the
 * linter parses the whole text.
 */

export interface OutlineRange {
  /** Offsets (UTF-16): from the start of the statement's first line to the end of its last line, newline included. */
  readonly start: number;
  readonly end: number;
}

export interface OutlineUnit extends OutlineRange {
  /** The headers (`class X(...):` lines, with their decorators) of the classes the statement is in, outermost first. */
  readonly headers: readonly OutlineRange[];
}

interface LogicalLine {
  /** Start of its first physical line. */
  readonly lineStart: number;
  /** First character of the statement. */
  readonly start: number;
  /** Just past its last character, newline included. */
  readonly end: number;
  readonly indent: number;
}

/** The outline, or undefined when the scan is unsure (an unclosed string or bracket, an odd indentation). */
export function outline(text: string): OutlineUnit[] | undefined {
  const lines = logicalLines(text);
  if (!lines) return undefined;
  const units: OutlineUnit[] = [];
  return collect(text, lines, 0, lines.length, 0, [], units) ? units : undefined;
}

function collect(text: string, lines: LogicalLine[], from: number, to: number, level: number, headers: OutlineRange[], out: OutlineUnit[]): boolean {
  let i = from;
  while (i < to) {
    if (lines[i].indent !== level) return false;
    const first = i;
    while (i < to - 1 && text.charCodeAt(lines[i].start) === 0x40 /* @ */ && lines[i + 1].indent === level) i++;
    const header = lines[i];
    let j = i + 1;
    while (j < to && lines[j].indent > level) j++;
    if (j > i + 1 && /^class\b/.test(text.slice(header.start, header.start + 6))) {
      const range = { start: lines[first].lineStart, end: header.end };
      if (!collect(text, lines, i + 1, j, lines[i + 1].indent, [...headers, range], out)) return false;
    } else {
      out.push({ start: lines[first].lineStart, end: lines[j - 1].end, headers });
    }
    i = j;
  }
  return true;
}

/** Splits the text into logical lines; undefined when a string or bracket is still open at the end. */
function logicalLines(text: string): LogicalLine[] | undefined {
  const out: LogicalLine[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    // At the start of a physical line: measure the indentation, skip blank and comment-only lines.
    const lineStart = i;
    let indent = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20) indent++;
      else if (c === 0x09) indent = (indent & ~7) + 8;
      else if (c === 0x0c) indent = 0;
      else break;
      i++;
    }
    if (i >= n) break;
    const c0 = text.charCodeAt(i);
    if (c0 === 0x0a || c0 === 0x0d || c0 === 0x23 /* # */) {
      while (i < n && text.charCodeAt(i) !== 0x0a) i++;
      i++;
      continue;
    }
    const start = i;
    let depth = 0;
    // To the end of the logical line.
    for (;;) {
      if (i >= n) {
        if (depth > 0) return undefined;
        out.push({ lineStart, start, end: n, indent });
        return out;
      }
      const c = text.charCodeAt(i);
      if (c === 0x0a) {
        i++;
        if (depth === 0) break;
        continue;
      }
      if (c === 0x23) {
        while (i < n && text.charCodeAt(i) !== 0x0a) i++;
        continue;
      }
      if (c === 0x5c /* \ */) {
        i += text.charCodeAt(i + 1) === 0x0d ? 3 : 2;
        continue;
      }
      if (c === 0x27 || c === 0x22) {
        const end = skipString(text, i);
        if (end < 0) return undefined;
        i = end;
        continue;
      }
      if (c === 0x28 || c === 0x5b || c === 0x7b) depth++;
      else if (c === 0x29 || c === 0x5d || c === 0x7d) {
        if (--depth < 0) return undefined;
      }
      i++;
    }
    out.push({ lineStart, start, end: i, indent });
  }
  return out;
}

/** The offset just past the string literal whose opening quote is at `i`, or -1 if it never closes. */
function skipString(text: string, i: number): number {
  const q = text.charCodeAt(i);
  const triple = text.charCodeAt(i + 1) === q && text.charCodeAt(i + 2) === q;
  const n = text.length;
  let j = i + (triple ? 3 : 1);
  while (j < n) {
    const c = text.charCodeAt(j);
    if (c === 0x5c) {
      j += 2;
      continue;
    }
    if (c === q && (!triple || (text.charCodeAt(j + 1) === q && text.charCodeAt(j + 2) === q))) return j + (triple ? 3 : 1);
    if (c === 0x0a && !triple) return -1;
    j++;
  }
  return -1;
}
