import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { type AsideEntry, keepAside } from "../tracker/aside-file.js";

/**
 * Where the remote client's writes wait while the server is unreachable: wire ops as JSON
 * lines, oldest first. `append` is durable before it returns; `ack` drops the oldest lines
 * once the server acknowledged them. The tracker's `Outbox` holds store ops, not wire ops, and
 * can only be cleared as a whole, hence this sibling with the same fsync discipline.
 */
export interface WireOutbox {
  append(lines: readonly string[]): void;
  /** The oldest lines, at most `maxOps` of them and `maxBytes` in all (but always one, if any). */
  peek(maxOps: number, maxBytes: number): string[];
  /** Drops the `count` oldest lines. */
  ack(count: number): void;
  size(): number;
  close(): void;
}

/** Acknowledged lines are cut from the file once this many pile up (and at close). */
const COMPACT_AFTER = 10_000;

/**
 * NDJSON file, fdatasync'd on every append, mirrored in memory. Acknowledged lines are dropped
 * from the file lazily (truncate when all are, rewrite-and-rename now and then): a crash in
 * between only makes the next client resend ops the server already has, which it skips by op id.
 */
export class FileWireOutbox implements WireOutbox {
  private fd: number;
  private lines: string[];
  private head = 0;
  /**
   * Lines that were not JSON (a write cut off by a crash, a damaged file). They are kept aside
   * in `asidePath` (see `keepAside`), never just dropped.
   */
  readonly corruptLines: number;
  readonly asidePath: string;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    const text = existsSync(path) ? readFileSync(path, "utf8") : "";
    this.lines = [];
    const aside: AsideEntry[] = [];
    const all = text.split("\n");
    all.forEach((line, i) => {
      if (line.length === 0) return;
      if (isJson(line)) this.lines.push(line);
      else aside.push({ reason: i === all.length - 1 ? "partial" : "unreadable", line });
    });
    this.corruptLines = aside.length;
    this.asidePath = keepAside(path, aside);
    const corrupt = aside.length;
    this.fd = openSync(path, "a+");
    // A partial last line would swallow the next append: rewrite the file without it.
    if (corrupt > 0 || (text.length > 0 && !text.endsWith("\n"))) this.rewrite();
  }

  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    writeSync(this.fd, `${lines.join("\n")}\n`);
    fdatasyncSync(this.fd);
    for (const line of lines) this.lines.push(line);
  }

  peek(maxOps: number, maxBytes: number): string[] {
    return take(this.lines, this.head, maxOps, maxBytes);
  }

  ack(count: number): void {
    this.head = Math.min(this.lines.length, this.head + count);
    if (this.head === this.lines.length) {
      ftruncateSync(this.fd, 0);
      fdatasyncSync(this.fd);
      this.lines = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER) {
      this.rewrite();
    }
  }

  size(): number {
    return this.lines.length - this.head;
  }

  close(): void {
    if (this.head > 0) this.rewrite();
    closeSync(this.fd);
  }

  /** Replaces the file with the unacknowledged lines: temp file, fsync, rename, fsync the dir. */
  private rewrite(): void {
    this.lines = this.lines.slice(this.head);
    this.head = 0;
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, "w");
    try {
      if (this.lines.length > 0) writeSync(fd, `${this.lines.join("\n")}\n`);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
    syncDir(dirname(this.path));
    closeSync(this.fd);
    this.fd = openSync(this.path, "a+");
  }
}

/** For clients without `outboxPath`: survives outages of the server, not of the process. */
export class MemoryWireOutbox implements WireOutbox {
  private lines: string[] = [];
  private head = 0;

  append(lines: readonly string[]): void {
    for (const line of lines) this.lines.push(line);
  }

  peek(maxOps: number, maxBytes: number): string[] {
    return take(this.lines, this.head, maxOps, maxBytes);
  }

  ack(count: number): void {
    this.head = Math.min(this.lines.length, this.head + count);
    if (this.head === this.lines.length || this.head >= COMPACT_AFTER) {
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    }
  }

  size(): number {
    return this.lines.length - this.head;
  }

  close(): void {}
}

function take(lines: readonly string[], from: number, maxOps: number, maxBytes: number): string[] {
  const out: string[] = [];
  let bytes = 0;
  for (let i = from; i < lines.length && out.length < maxOps; i++) {
    const line = lines[i] as string;
    bytes += Buffer.byteLength(line) + 1;
    if (out.length > 0 && bytes > maxBytes) break;
    out.push(line);
  }
  return out;
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** Makes a rename durable. Some platforms cannot open a directory; the rename still happened. */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
