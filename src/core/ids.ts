import { randomFillSync } from "node:crypto";

/**
 * UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then random bits. Ids made in the same
 * millisecond stay ordered because the 12-bit `rand_a` field is used as a counter,
 * as RFC 9562 section 6.2 (method 1) allows.
 */
let lastMs = -1;
let counter = 0;
const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;

function randomBytes16(): Buffer {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return bytes;
}

export function uuidv7(now: number = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // The counter ran out in this millisecond: borrow the next one, as the RFC suggests.
      ms = lastMs + 1;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  const b = Buffer.from(randomBytes16());
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The default request id: `req_` + a UUIDv7, so ids sort by creation time. */
export function newRequestId(now?: number): string {
  return `req_${uuidv7(now)}`;
}
