/**
 * Splits a byte stream into protocol lines (newline-delimited UTF-8).
 *
 * A line longer than the limit is dropped whole, reported once through `onOversized`, and
 * the decoder goes on with the line after it, so one huge or endless line cannot exhaust
 * memory or stop the stream. Pure: no `vscode`, no sockets.
 */

export const MAX_LINE_BYTES = 8 * 1024 * 1024;

export class LineDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  /** True while skipping the rest of an oversized line, up to its newline. */
  private skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOversized: (bytes: number) => void = () => undefined,
    private readonly maxBytes = MAX_LINE_BYTES,
  ) {}

  push(data: Buffer): void {
    let start = 0;
    while (start < data.length) {
      const nl = data.indexOf(0x0a, start);
      const end = nl === -1 ? data.length : nl;
      if (this.skipping) {
        this.size += end - start;
      } else {
        this.chunks.push(data.subarray(start, end));
        this.size += end - start;
        if (this.size > this.maxBytes) {
          this.skipping = true;
          this.chunks = [];
        }
      }
      if (nl === -1) return;
      this.finishLine();
      start = nl + 1;
    }
  }

  /** Bytes held for an unfinished line (for tests and diagnostics). */
  get pendingBytes(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  private finishLine(): void {
    if (this.skipping) {
      this.onOversized(this.size + 1);
    } else {
      let line = Buffer.concat(this.chunks, this.size).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim().length > 0) this.onLine(line);
    }
    this.chunks = [];
    this.size = 0;
    this.skipping = false;
  }
}
