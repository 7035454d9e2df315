import { appendFileSync, readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileWireOutbox, MemoryWireOutbox } from "../../src/client/wire-outbox.js";
import { asidePath } from "../../src/tracker/aside-file.js";
import { tempDir } from "../support/helpers.js";

const op = (i: number) => JSON.stringify({ opId: `o:${i}`, type: "event", requestId: "req_1" });

describe("wire outbox", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  for (const [name, make] of [
    ["file", () => new FileWireOutbox(dir.file("o/outbox.ndjson"))],
    ["memory", () => new MemoryWireOutbox()],
  ] as const) {
    it(`${name}: hands out the oldest lines first, bounded by count and bytes, and drops acknowledged ones`, () => {
      const outbox = make();
      outbox.append([op(1), op(2), op(3)]);
      outbox.append([op(4)]);
      expect(outbox.size()).toBe(4);
      expect(outbox.peek(2, 1_000_000)).toEqual([op(1), op(2)]);
      expect(outbox.peek(10, op(1).length + 2)).toEqual([op(1)]);
      expect(outbox.peek(10, 1)).toEqual([op(1)]);
      outbox.ack(3);
      expect(outbox.peek(10, 1_000_000)).toEqual([op(4)]);
      outbox.ack(1);
      expect(outbox.size()).toBe(0);
      expect(outbox.peek(10, 1_000_000)).toEqual([]);
      outbox.close();
    });
  }

  it("keeps only unacknowledged lines across a reopen", () => {
    const path = dir.file("outbox.ndjson");
    const outbox = new FileWireOutbox(path);
    outbox.append([op(1), op(2), op(3)]);
    outbox.ack(2);
    outbox.close();
    expect(readFileSync(path, "utf8")).toBe(`${op(3)}\n`);
    const again = new FileWireOutbox(path);
    expect(again.peek(10, 1_000_000)).toEqual([op(3)]);
    again.ack(1);
    expect(readFileSync(path, "utf8")).toBe("");
    again.close();
  });

  it("keeps a garbled line and a line cut off by a crash aside (never just dropped), with why", () => {
    const path = dir.file("outbox.ndjson");
    appendFileSync(path, `${op(1)}\n{garbled\n${op(2).slice(0, 10)}`);
    const outbox = new FileWireOutbox(path);
    expect(outbox.corruptLines).toBe(2);
    expect(outbox.peek(10, 1_000_000)).toEqual([op(1)]);
    outbox.close();
    const aside = readFileSync(asidePath(path), "utf8").trim().split("\n");
    expect(aside.map((line) => JSON.parse(line))).toMatchObject([
      { reason: "unreadable", line: "{garbled" },
      { reason: "partial", line: op(2).slice(0, 10) },
    ]);
  });

  it("drops a line cut off by a crash without letting it swallow the next append", () => {
    const path = dir.file("outbox.ndjson");
    appendFileSync(path, `${op(1)}\n${op(2).slice(0, 10)}`);
    const outbox = new FileWireOutbox(path);
    expect(outbox.corruptLines).toBe(1);
    outbox.append([op(3)]);
    outbox.close();
    const reopened = new FileWireOutbox(path);
    expect(reopened.peek(10, 1_000_000)).toEqual([op(1), op(3)]);
    expect(reopened.corruptLines).toBe(0);
    reopened.close();
  });
});
