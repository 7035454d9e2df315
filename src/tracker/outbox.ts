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
import { ValidationError } from "../core/errors.js";
import type { Op } from "../core/ops.js";
import { type AsideEntry, asidePath, keepAside } from "./aside-file.js";

/**
 * Where ops wait while the store cannot be written. Appends are ordered and durable before
 * the caller's promise resolves; `clear()` runs only after every op read by `read()` was
 * committed (ops carry op ids, so a crash between the two replays them once, not twice).
 */
export interface Outbox {
  append(ops: readonly Op[]): void;
  read(): { ops: Op[]; corruptLines: number; corrupt: string[] };
  /**
   * Keeps lines that cannot be replayed (unreadable, or refused by the store) where an
   * operator finds them, before `clear()` drops them from the outbox. Returns where, or null
   * for an outbox that has no file.
   */
  setAside(entries: readonly AsideEntry[]): string | null;
  /** Lines set aside when the outbox was opened (a last line cut off by a crash), if any. */
  readonly setAsideAtOpen: number;
  /** The file that holds what was set aside; null for an outbox without a file. */
  readonly asidePath: string | null;
  size(): number;
  clear(): void;
  close(): void;
}

/** NDJSON file outbox, fsync'd on every append. Survives a restart of the process. */
export class FileOutbox implements Outbox {
  private fd: number;
  private count: number;
  setAsideAtOpen = 0;
  readonly asidePath: string;

  constructor(readonly path: string) {
    this.asidePath = asidePath(path);
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, "a+");
    } catch (error) {
      // Degraded mode would have nowhere to keep writes: say so at once, not at the outage.
      throw new ValidationError(
        "outboxPath",
        `cannot open ${path} for appending (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a writable file path`,
        { cause: error },
      );
    }
    this.dropPartialLine();
    this.count = this.read().ops.length;
  }

  /**
   * A crash mid-append can leave a last line without its newline. Its op was never
   * acknowledged; it is kept aside (never just dropped) and cut off, so that the next append
   * starts on a line of its own.
   */
  private dropPartialLine(): void {
    const text = readFileSync(this.path, "utf8");
    if (text.length === 0 || text.endsWith("\n")) return;
    const cut = text.lastIndexOf("\n") + 1;
    keepAside(this.path, [{ reason: "partial", line: text.slice(cut) }]);
    this.setAsideAtOpen = 1;
    ftruncateSync(this.fd, Buffer.byteLength(text.slice(0, cut)));
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

  read(): { ops: Op[]; corruptLines: number; corrupt: string[] } {
    const ops: Op[] = [];
    const corrupt: string[] = [];
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      if (line.length === 0) continue;
      try {
        ops.push(JSON.parse(line) as Op);
      } catch {
        // A damaged file (a disk fault, a hand edit): the line is set aside on replay.
        corrupt.push(line);
      }
    }
    return { ops, corruptLines: corrupt.length, corrupt };
  }

  setAside(entries: readonly AsideEntry[]): string {
    return keepAside(this.path, entries);
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
  readonly setAsideAtOpen = 0;
  readonly asidePath = null;
  /** What the store refused on replay: no file to keep it in, so it stays here for the log. */
  readonly aside: AsideEntry[] = [];

  append(ops: readonly Op[]): void {
    this.ops.push(...ops);
  }

  read(): { ops: Op[]; corruptLines: number; corrupt: string[] } {
    return { ops: [...this.ops], corruptLines: 0, corrupt: [] };
  }

  setAside(entries: readonly AsideEntry[]): null {
    this.aside.push(...entries);
    return null;
  }

  size(): number {
    return this.ops.length;
  }

  clear(): void {
    this.ops = [];
  }

  close(): void {}
}
