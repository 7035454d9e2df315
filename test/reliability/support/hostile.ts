import fc from "fast-check";

/**
 * Hostile values for fuzzing: what an attacker or a broken client sends. Each arbitrary
 * mixes values a schema would accept with the classics that break servers.
 */

const MEGABYTE = "x".repeat(1024 * 1024);

/** Strings: NUL, lone surrogates, RTL marks, emoji, path traversal, SQL, 1 MB, empty. */
export const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    "\u0000",
    "a\u0000b",
    "\uD800",
    "\uDFFF\uD800",
    "\u202Eevil",
    "😀🧨",
    "\uFFFF\uFFFE",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "' OR 1=1 --",
    "'; DROP TABLE requests; --",
    '" OR ""="',
    "$where",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "%s%s%s%n",
    "req_" + "9".repeat(300),
    MEGABYTE,
  ),
);

/** Numbers: NaN and the infinities (JSON has neither: they become null), huge, negative, fractional. */
export const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    -1,
    -0,
    0.5,
    2 ** 53,
    -(2 ** 53),
    1e308,
    -1e308,
    8.64e15,
    8.64e15 + 1,
    253402300799999,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ),
);

/** Any JSON value, sometimes nested far deeper than any real payload. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 50, max: 1000 }).map((depth) => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = { a: value };
      return value;
    }),
  },
);

// A JSON schema node, as the OpenAPI document holds it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON schema is untyped JSON
export type Schema = Record<string, any>;

/** A value shaped by `schema` most of the time, a hostile one otherwise. */
export function valueFor(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: shaped(schema, depth) },
    { weight: 1, arbitrary: hostileJson },
  );
}

function shaped(schema: Schema | undefined, depth: number): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return hostileJson;
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const union = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (union) return fc.oneof(...union.map((s) => shaped(s, depth + 1)));
  switch (schema.type) {
    case "string":
      return schema.format === "date-time"
        ? fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
        : fc.oneof(fc.string({ maxLength: 20 }), hostileString);
    case "integer":
      return fc.oneof(
        fc.integer({ min: schema.minimum ?? -1000, max: Math.min(schema.maximum ?? 1e6, 1e15) }),
        hostileNumber,
      );
    case "number":
      return fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), hostileNumber);
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(valueFor(schema.items as Schema, depth + 1), { maxLength: 5 });
    case "object":
      return objectFor(schema, depth);
    default:
      return hostileJson;
  }
}

/** Some of the schema's properties, sometimes with fields it does not know. */
export function objectFor(schema: Schema, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const known = fc.record(
    Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, valueFor(s, depth + 1)])),
    { requiredKeys: [] },
  );
  const extra = fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), hostileString), hostileJson, {
    maxKeys: 3,
  });
  return fc.oneof(
    { weight: 4, arbitrary: known },
    { weight: 1, arbitrary: fc.tuple(known, extra).map(([a, b]) => ({ ...b, ...a })) },
  );
}

/** Bodies that are not the JSON they claim to be. */
export const malformedBody = fc.constantFrom(
  "",
  "{",
  '{"a":',
  "[]",
  "null",
  "true",
  "0",
  '"text"',
  "{'single':1}",
  '{"a":1}{"b":2}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  "\u0000",
  `{"x":"${MEGABYTE}"}`,
  "[".repeat(100_000),
  // Deeper than JSON.stringify on this side can build: written as text.
  `{"input":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`,
  `{"ops":[${'{"a":'.repeat(5000)}1${"}".repeat(5000)}]}`,
);

/** Query strings a URL parser chokes on. */
export const badQuery = fc.constantFrom(
  "%",
  "a=%ZZ",
  "limit=1&limit=2",
  "from[]=1",
  "from[$gt]=0",
  "=",
  "&&&",
  "limit=-1",
  "limit=1e3",
  "offset=99999999999999999999",
  "status=running,,",
  "to=NaN",
  "from=Infinity",
  "hours=1e308",
  "cursor=%00",
  `q=${"a".repeat(10_000)}`,
);
