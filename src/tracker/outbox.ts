import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import type { Op } from "../core/ops.js";

/**
 * Where ops wait while the store cannot be written. Appends are ordered and durable before
 * the caller's promise resolves; `clear()` runs only after every op read by `read()` was
 * committed (ops carry op ids, so a crash between the two replays them once, not twice).
 */
export interface Outbox {
  append(ops: readonly Op[]): void;
  read(): { ops: Op[]; corruptLines: number };
  size(): number;
  clear(): void;
  close(): void;
}

/** NDJSON file outbox, fsync'd on every append. Survives a restart of the process. */
export class FileOutbox implements Outbox {
  private fd: number;
  private count: number;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, "a+");
    this.dropPartialLine();
    this.count = this.read().ops.length;
  }

  /**
   * A crash mid-append can leave a last line without its newline. Its op was never
   * acknowledged; cut it off so that the next append starts on a line of its own.
   */
  private dropPartialLine(): void {
    const text = readFileSync(this.path, "utf8");
    if (text.length === 0 || text.endsWith("\n")) return;
    ftruncateSync(this.fd, Buffer.byteLength(text.slice(0, text.lastIndexOf("\n") + 1)));
    fdatasyncSync(this.fd);
  }

  append(ops: readonly Op[]): void {
    if (ops.length === 0) return;
    let text = "";
    for (const op of ops) text += `${JSON.stringify(op)}\n`;
    writeSync(this.fd, text);
    fdatasyncSync(this.fd);
    this.count += ops.length;
  }

  read(): { ops: Op[]; corruptLines: number } {
    const ops: Op[] = [];
    let corruptLines = 0;
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      if (line.length === 0) continue;
      try {
        ops.push(JSON.parse(line) as Op);
      } catch {
        // Only a write cut off by a crash can leave a partial line; its op was never acknowledged.
        corruptLines++;
      }
    }
    return { ops, corruptLines };
  }

  size(): number {
    return this.count;
  }

  clear(): void {
    ftruncateSync(this.fd, 0);
    fdatasyncSync(this.fd);
    this.count = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** For ":memory:" stores, which cannot outlive the process anyway. */
export class MemoryOutbox implements Outbox {
  private ops: Op[] = [];

  append(ops: readonly Op[]): void {
    this.ops.push(...ops);
  }

  read(): { ops: Op[]; corruptLines: number } {
    return { ops: [...this.ops], corruptLines: 0 };
  }

  size(): number {
    return this.ops.length;
  }

  clear(): void {
    this.ops = [];
  }

  close(): void {}
}
