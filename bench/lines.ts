// lines.ts: reads a child process's stdout as JSON lines, keeping the last few raw lines of its output for error messages.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export class LineTail {
  private readonly lines: string[] = [];
  constructor(private readonly keep = 20) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.shift();
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** Calls onJson for each line that parses as a JSON object, and records every line in tail. */
export function readJsonLines(stream: Readable, tail: LineTail, onJson: (obj: Record<string, unknown>) => void): void {
  const rl = createInterface({ input: stream });
  rl.on('line', (line) => {
    tail.push(line);
    if (!line.startsWith('{')) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      return;
    }
    if (obj && typeof obj === 'object') onJson(obj as Record<string, unknown>);
  });
}

/** Collects a stream's lines into a tail only. */
export function tailLines(stream: Readable, tail: LineTail): void {
  createInterface({ input: stream }).on('line', (line) => tail.push(line));
}
