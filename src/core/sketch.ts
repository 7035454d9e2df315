/**
 * A mergeable latency sketch (DDSketch-style log histogram). A value v > 0 lands in bucket
 * ceil(log_gamma(v)) with gamma = (1 + a) / (1 - a), and every bucket answers with the one
 * number that is within `a` of anything it holds, so each quantile is within
 * SKETCH_RELATIVE_ACCURACY (1 %) of the exact nearest-rank value. Sketches add and subtract
 * bucket by bucket, which is what lets rollups keep one per time bucket, update it in the
 * writer's transaction (a retried request takes its duration back out), and merge any range
 * of buckets at query time.
 *
 * Pure and I/O-free: the store drivers persist it with `toBytes` and `fromBytes`.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.01;

const GAMMA = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
// Key 0 holds zeros (and negative durations from a clock that moved back); key k >= 1 holds
// (gamma^(k-2), gamma^(k-1)]. Values are clamped to 2^53, so keys stay below 2^16.
const MAX_VALUE = 2 ** 53;
const ENTRY_BYTES = 6;

// One value usually goes into several sketches in a row (one per rollup level): remember the
// last key rather than take its logarithm again each time.
let lastValue = Number.NaN;
let lastKey = 0;

/** The bucket key of `value`. */
export function sketchKey(value: number): number {
  if (value === lastValue) return lastKey;
  const key =
    value > 0 ? Math.max(1, 1 + Math.ceil(Math.log(Math.min(value, MAX_VALUE)) / LOG_GAMMA)) : 0;
  lastValue = value;
  lastKey = key;
  return key;
}

/** The value a bucket answers with: within the relative accuracy of everything in it. */
export function sketchValue(key: number): number {
  return key === 0 ? 0 : (2 * GAMMA ** (key - 1)) / (GAMMA + 1);
}

/**
 * Counts per bucket key, in a dense array over the keys in use (a few hundred for real
 * latencies): merging a stored sketch is one pass of additions, which is what dashboards do
 * hundreds of times per query. Counts may go negative only while a sketch is used as a delta.
 */
export class Sketch {
  /** Key of counts[0]. */
  private offset = 0;
  private counts = new Float64Array(0);

  /** Adds `n` occurrences of `value` (negative `n` removes them). */
  add(value: number, n = 1): this {
    return this.addKey(sketchKey(value), n);
  }

  /** Adds `n` to the bucket `key` (see `sketchKey`). */
  addKey(key: number, n: number): this {
    if (n === 0) return this;
    this.cover(key, key);
    const at = key - this.offset;
    this.counts[at] = (this.counts[at] as number) + n;
    return this;
  }

  /** Adds (sign 1) or subtracts (sign -1) every bucket of `other`. */
  merge(other: Sketch, sign: 1 | -1 = 1): this {
    const size = other.counts.length;
    if (size === 0) return this;
    this.cover(other.offset, other.offset + size - 1);
    const shift = other.offset - this.offset;
    for (let i = 0; i < size; i++) {
      this.counts[shift + i] =
        (this.counts[shift + i] as number) + sign * (other.counts[i] as number);
    }
    return this;
  }

  /** Merges a sketch stored with `toBytes` without building it first. */
  mergeBytes(bytes: Uint8Array | null | undefined): this {
    if (!bytes || bytes.byteLength < ENTRY_BYTES) return this;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = bytes.byteLength - (bytes.byteLength % ENTRY_BYTES);
    // Stored keys are sorted: the first and last bound the range to cover.
    this.cover(view.getUint16(0, true), view.getUint16(end - ENTRY_BYTES, true));
    for (let at = 0; at < end; at += ENTRY_BYTES) {
      const i = view.getUint16(at, true) - this.offset;
      this.counts[i] = (this.counts[i] as number) + view.getInt32(at + 2, true);
    }
    return this;
  }

  /** How many values the sketch holds. */
  get count(): number {
    let total = 0;
    for (const n of this.counts) total += n;
    return total;
  }

  get isEmpty(): boolean {
    return this.counts.every((n) => n === 0);
  }

  /**
   * The nearest-rank `percent`-th percentile (rank ceil(percent / 100 * count), from 1), within
   * 1 % of the exact one; null for an empty sketch. Percents are integers so that the rank is
   * exact: 95 * 20 / 100 is 19, where 0.95 * 20 rounds up to 19.000000000000004.
   */
  percentile(percent: number): number | null {
    const total = this.count;
    if (total <= 0) return null;
    const rank = Math.max(1, Math.ceil((percent * total) / 100));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return sketchValue(this.offset + i);
    }
    return null;
  }

  /** Non-empty buckets as [key, count] pairs in key order. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.counts.forEach((n, i) => {
      if (n !== 0) out.push([this.offset + i, n]);
    });
    return out;
  }

  /** Compact storage: 6 bytes per non-empty bucket, sorted by key; null when empty. */
  toBytes(): Buffer | null {
    const entries = this.entries();
    if (entries.length === 0) return null;
    const bytes = Buffer.allocUnsafe(entries.length * ENTRY_BYTES);
    entries.forEach(([key, n], i) => {
      bytes.writeUInt16LE(key, i * ENTRY_BYTES);
      bytes.writeInt32LE(n, i * ENTRY_BYTES + 2);
    });
    return bytes;
  }

  /**
   * The non-empty buckets as a JSON object `{"<key>": count}` (null when empty): how the
   * PostgreSQL store keeps a sketch, in a jsonb column its SQL can merge key by key.
   */
  toJsonText(): string | null {
    const entries = this.entries();
    return entries.length === 0 ? null : JSON.stringify(Object.fromEntries(entries));
  }

  /** Merges a sketch stored with `toJsonText` (as parsed from jsonb). */
  mergeCounts(counts: Readonly<Record<string, number>> | null | undefined): this {
    if (!counts) return this;
    for (const key in counts) this.addKey(Number(key), counts[key] as number);
    return this;
  }

  static fromBytes(bytes: Uint8Array | null | undefined): Sketch {
    return new Sketch().mergeBytes(bytes);
  }

  /** Grows the array (with some room) so that it covers keys `low` to `high`. */
  private cover(low: number, high: number): void {
    const size = this.counts.length;
    if (size > 0 && low >= this.offset && high < this.offset + size) return;
    const from = size === 0 ? low : Math.min(low, this.offset);
    const to = size === 0 ? high : Math.max(high, this.offset + size - 1);
    const start = Math.max(0, from - 16);
    const grown = new Float64Array(to + 17 - start);
    if (size > 0) grown.set(this.counts, this.offset - start);
    this.offset = start;
    this.counts = grown;
  }
}

/**
 * Sum of two stored sketches, as stored (null when empty); used by SQL upserts to merge a
 * delta into a rollup row. Both are sorted by key, so this is one linear merge of the bytes.
 */
export function mergeSketchBytes(
  a: Uint8Array | null | undefined,
  b: Uint8Array | null | undefined,
): Buffer | null {
  if (!a || a.byteLength === 0) return b && b.byteLength > 0 ? Buffer.from(b) : null;
  if (!b || b.byteLength === 0) return Buffer.from(a);
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out = Buffer.allocUnsafe(x.length + y.length);
  let i = 0;
  let j = 0;
  let n = 0;
  const put = (key: number, count: number) => {
    if (count === 0) return;
    out.writeUInt16LE(key, n);
    out.writeInt32LE(count, n + 2);
    n += ENTRY_BYTES;
  };
  while (i < x.length || j < y.length) {
    const kx = i < x.length ? x.readUInt16LE(i) : Infinity;
    const ky = j < y.length ? y.readUInt16LE(j) : Infinity;
    if (kx === ky) {
      put(kx, x.readInt32LE(i + 2) + y.readInt32LE(j + 2));
      i += ENTRY_BYTES;
      j += ENTRY_BYTES;
    } else if (kx < ky) {
      put(kx, x.readInt32LE(i + 2));
      i += ENTRY_BYTES;
    } else {
      put(ky, y.readInt32LE(j + 2));
      j += ENTRY_BYTES;
    }
  }
  return n === 0 ? null : out.subarray(0, n);
}
