// framing.ts: newline-delimited JSON framing for the syrupd Unix socket, with a hard cap on message size.
import { SyrupError } from './errors.ts';

/** Default cap on one request or response line (policy sources travel inline). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

/**
 * Splits a byte stream into lines. A line longer than maxBytes is never
 * buffered: its bytes are dropped up to the next newline and it comes out as
 * one EMSGSIZE error in its place, so the stream stays usable afterwards.
 */
export class LineFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): (string | SyrupError)[] {
    const out: (string | SyrupError)[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.discarding) {
        this.size += end - start;
        if (this.size > this.maxBytes) {
          this.parts = [];
          this.discarding = true;
        } else if (end > start) {
          this.parts.push(chunk.subarray(start, end));
        }
      }
      if (nl < 0) return out;
      if (this.discarding) out.push(new SyrupError('EMSGSIZE', `message larger than ${this.maxBytes} bytes`));
      else out.push(Buffer.concat(this.parts).toString('utf8'));
      this.parts = [];
      this.size = 0;
      this.discarding = false;
      start = nl + 1;
    }
  }
}

export function encodeLine(message: unknown): string {
  return JSON.stringify(message) + '\n';
}
