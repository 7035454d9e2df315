import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  mergeSketchBytes,
  SKETCH_RELATIVE_ACCURACY,
  Sketch,
  sketchKey,
  sketchValue,
} from "../../src/core/sketch.js";

const exactPercentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p * sorted.length) / 100)) - 1] as number;
};

describe("latency sketch", () => {
  it("answers every percentile within 1 % of the exact nearest-rank value", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 2 ** 40 })),
          {
            minLength: 1,
            maxLength: 500,
          },
        ),
        fc.integer({ min: 1, max: 100 }),
        (values, p) => {
          const sketch = new Sketch();
          for (const v of values) sketch.add(v);
          const exact = exactPercentile(values, p);
          const got = sketch.percentile(p) as number;
          expect(Math.abs(got - exact)).toBeLessThanOrEqual(
            exact * SKETCH_RELATIVE_ACCURACY + 1e-9,
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("keeps the bound at every bucket edge", () => {
    for (let key = 1; key <= sketchKey(2 ** 53); key++) {
      const value = sketchValue(key);
      const low = value / (1 + SKETCH_RELATIVE_ACCURACY);
      const high = value / (1 - SKETCH_RELATIVE_ACCURACY);
      expect(sketchKey(high * (1 - 1e-12))).toBe(key);
      expect(sketchKey(low * (1 + 1e-12))).toBe(key);
    }
  });

  it("merges and subtracts bucket by bucket, so a rollup can take a value back out", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(10_000_000)), fc.array(fc.nat(10_000_000)), (a, b) => {
        const left = new Sketch();
        for (const v of a) left.add(v);
        const right = new Sketch();
        for (const v of b) right.add(v);
        const both = new Sketch();
        for (const v of [...a, ...b]) both.add(v);
        expect(new Sketch().merge(left).merge(right).entries()).toEqual(both.entries());
        expect(new Sketch().merge(both).merge(right, -1).entries()).toEqual(left.entries());
      }),
    );
  });

  it("round-trips through its 6-byte-per-bucket storage form", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(2 ** 45)), (values) => {
        const sketch = new Sketch();
        for (const v of values) sketch.add(v);
        const bytes = sketch.toBytes();
        expect(bytes === null ? 0 : bytes.length).toBe(sketch.entries().length * 6);
        expect(Sketch.fromBytes(bytes).entries()).toEqual(sketch.entries());
      }),
    );
  });

  it("holds zeros exactly and is empty without values", () => {
    expect(new Sketch().percentile(50)).toBeNull();
    expect(new Sketch().add(0).add(0).add(5).percentile(50)).toBe(0);
    expect(new Sketch().add(-3).percentile(99)).toBe(0);
  });
});

describe("stored sketch merge", () => {
  it("adds two stored sketches like merging the sketches, dropping buckets that reach zero", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(1e9)),
        fc.array(fc.nat(1e9)),
        fc.array(fc.nat(1e9)),
        (a, b, removed) => {
          const left = new Sketch();
          for (const v of [...a, ...removed]) left.add(v);
          const right = new Sketch();
          for (const v of b) right.add(v);
          for (const v of removed) right.add(v, -1);
          const expected = new Sketch().merge(left).merge(right);
          const merged = mergeSketchBytes(left.toBytes(), right.toBytes());
          expect(Sketch.fromBytes(merged).entries()).toEqual(expected.entries());
          expect(merged === null ? null : [...merged]).toEqual(
            expected.toBytes() === null ? null : [...(expected.toBytes() as Buffer)],
          );
        },
      ),
    );
  });
});
