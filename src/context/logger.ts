import { type Logger, pino } from "pino";
import { currentScope } from "./scope.js";

export type { Logger };

type Mixin = (object: object, level: number, logger: Logger) => object;

/**
 * A pino `mixin` that adds `request_id` to every line logged inside a request scope (a
 * `request_id` the line sets itself wins). Give it to your own `pino({ mixin })`, or wrap an
 * existing logger with `withRequestIds`.
 */
export const requestIdMixin: Mixin = () => {
  const scope = currentScope();
  // pino mutates what a mixin returns, so this must be a fresh object every time.
  return scope ? { request_id: scope.requestId } : {};
};

const wrapped = new WeakSet<Logger>();

/**
 * A child of `logger` whose lines carry `request_id` inside a request scope, its own mixin
 * (if any) kept. Children of the result inherit it. Wrapping twice is a no-op.
 *
 * @example
 * const log = withRequestIds(app.log);
 * await tracker.withRequest(id, async () => log.info("calling Gemini")); // {"request_id":"req_...",...}
 */
export function withRequestIds(logger: Logger): Logger {
  if (wrapped.has(logger)) return logger;
  const child = logger.child({});
  const own = (logger as unknown as Record<symbol, Mixin | undefined>)[pino.symbols.mixinSym];
  // pino keeps the mixin under a symbol it exports for this kind of use; children created
  // with Object.create(parent) inherit it.
  (child as unknown as Record<symbol, Mixin>)[pino.symbols.mixinSym] = own
    ? (object, level, instance) => ({
        ...own(object, level, instance),
        ...requestIdMixin(object, level, instance),
      })
    : requestIdMixin;
  wrapped.add(child);
  return child;
}

/**
 * The logger reqtrack uses when the caller brings none: pino JSON on stdout, level from
 * REQTRACK_LOG_LEVEL (default "info"), `request_id` on every line inside a request scope.
 * Pass your own pino instance to merge reqtrack's lines into your app's log stream.
 */
export function createDefaultLogger(): Logger {
  const logger = pino({
    name: "reqtrack",
    level: process.env.REQTRACK_LOG_LEVEL ?? "info",
    mixin: requestIdMixin,
  });
  wrapped.add(logger);
  return logger;
}

/** A log line carries at most the first 50 characters of a prompt. */
export function promptPreview(prompt: string | null | undefined): string | undefined {
  return prompt == null ? undefined : prompt.slice(0, 50);
}
