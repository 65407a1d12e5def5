import * as assert from 'assert';
import { LineDecoder } from '../../src/protocol/lineDecoder';

function collect(maxBytes?: number) {
  const lines: string[] = [];
  const oversized: number[] = [];
  const decoder = new LineDecoder((l) => lines.push(l), (n) => oversized.push(n), maxBytes);
  return { decoder, lines, oversized };
}

describe('LineDecoder', () => {
  it('splits lines across and within chunks', () => {
    const { decoder, lines } = collect();
    decoder.push(Buffer.from('{"a":1}\n{"b"'));
    decoder.push(Buffer.from(':2}\n{"c":3}\n{"d"'));
    assert.deepStrictEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
    assert.strictEqual(decoder.pendingBytes, 4);
  });

  it('keeps a multi-byte character split between chunks whole', () => {
    const { decoder, lines } = collect();
    const bytes = Buffer.from('{"name":"tâche ✓"}\n');
    const cut = bytes.indexOf(0xe2) + 1; // inside the three bytes of ✓
    decoder.push(bytes.subarray(0, cut));
    decoder.push(bytes.subarray(cut));
    assert.deepStrictEqual(lines, ['{"name":"tâche ✓"}']);
  });

  it('accepts CRLF endings and skips blank lines', () => {
    const { decoder, lines } = collect();
    decoder.push(Buffer.from('one\r\n\n  \ntwo\n'));
    assert.deepStrictEqual(lines, ['one', 'two']);
  });

  it('drops an oversized line whole and goes on with the next', () => {
    const { decoder, lines, oversized } = collect(16);
    decoder.push(Buffer.from('short\n' + 'x'.repeat(10)));
    decoder.push(Buffer.from('y'.repeat(30)));
    assert.strictEqual(decoder.pendingBytes, 0, 'an oversized line must not be held in memory');
    decoder.push(Buffer.from('zz\nafter\n'));
    assert.deepStrictEqual(lines, ['short', 'after']);
    assert.deepStrictEqual(oversized, [43]);
  });
});
