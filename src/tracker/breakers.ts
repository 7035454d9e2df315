import { createRequire } from "node:module";
import type CircuitBreaker from "opossum";
import { currentScope, type ScopeTracker } from "../context/scope.js";
import { MissingDependencyError, ValidationError } from "../core/errors.js";
import { nameSchema, parse } from "../core/schemas.js";
import type { AlertEvent } from "../core/live-events.js";

/** opossum's options, plus the failure rate (percent) past which an alert fires (default 10). */
export type BreakerOptions<TI extends unknown[] = unknown[]> = Omit<
  CircuitBreaker.Options<TI>,
  "name"
> & { failureRateAlertPct?: number };

/**
 * One breaker's figures since it was created. Calls refused while open count as calls and as
 * failures (the caller saw one), and also as `totalRejected`.
 */
export interface BreakerStats {
  state: "CLOSED" | "OPEN" | "HALF_OPEN";
  totalCalls: number;
  totalFailures: number;
  totalRejected: number;
  /** totalFailures / totalCalls in percent, one decimal; 0 before the first call. */
  failureRatePct: number;
}

/** What the registry needs from the tracker. */
export interface BreakerHost extends ScopeTracker {
  alert(alert: Omit<AlertEvent, "type" | "at">): void;
}

interface Entry {
  breaker: CircuitBreaker<never[], unknown>;
  calls: number;
  failures: number;
  rejected: number;
  alertPct: number;
  /** Above the alert threshold already: the rate alert fires on crossing, not on every call. */
  high: boolean;
  /** The last refused call, until we know whether a fallback answered it. */
  refusal: { fellBack: boolean } | null;
}

/** The breakers of one tracker, by name. Reached through `tracker.breaker()` and `breakerStats()`. */
export class BreakerRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly host: BreakerHost) {}

  /** A new opossum breaker around `fn`, tracked under `name` (unique per tracker). */
  create<TI extends unknown[], TR>(
    name: string,
    fn: (...args: TI) => Promise<TR>,
    options: BreakerOptions<TI> = {},
  ): CircuitBreaker<TI, TR> {
    parse(nameSchema, name, "name");
    if (this.entries.has(name)) {
      throw new ValidationError("name", `a breaker named "${name}" exists already; reuse it`);
    }
    const { failureRateAlertPct = 10, ...rest } = options;
    const Breaker = loadOpossum();
    const breaker = new Breaker(fn, { ...rest, name });
    const entry: Entry = {
      breaker: breaker as unknown as Entry["breaker"],
      calls: 0,
      failures: 0,
      rejected: 0,
      alertPct: failureRateAlertPct,
      high: false,
      refusal: null,
    };
    this.entries.set(name, entry);
    breaker.on("fire", () => entry.calls++);
    breaker.on("success", () => this.checkRate(name, entry));
    breaker.on("failure", () => {
      entry.failures++;
      this.checkRate(name, entry);
    });
    breaker.on("reject", () => {
      entry.failures++;
      entry.rejected++;
      this.refused(name, entry);
      this.checkRate(name, entry);
    });
    breaker.on("fallback", () => {
      if (entry.refusal) entry.refusal.fellBack = true;
    });
    breaker.on("open", () =>
      this.host.alert({
        name: "circuit_breaker_open",
        message: `${name} circuit breaker is OPEN`,
        requestId: currentScope()?.requestId ?? null,
        data: { circuit_breaker: name, ...statsOf(entry) },
      }),
    );
    breaker.on("halfOpen", () =>
      this.host.logger.info({ circuit_breaker: name }, "circuit breaker half-open"),
    );
    breaker.on("close", () =>
      this.host.logger.info({ circuit_breaker: name }, "circuit breaker closed"),
    );
    return breaker;
  }

  /** Every breaker's figures, by name. */
  stats(): Record<string, BreakerStats> {
    return Object.fromEntries([...this.entries].map(([name, entry]) => [name, statsOf(entry)]));
  }

  /**
   * A call refused by the open breaker, inside a request of this tracker: log the warning
   * event, and fail the current stage as retryable unless a fallback answered the call.
   */
  private refused(name: string, entry: Entry): void {
    const scope = currentScope();
    if (!scope || scope.tracker !== this.host) return;
    const { requestId, stage } = scope;
    const details = { circuit_breaker: name, state: "OPEN" };
    const refusal = { fellBack: false };
    entry.refusal = refusal;
    const warn = (error: unknown) =>
      this.host.logger.warn(
        { err: error, request_id: requestId, circuit_breaker: name },
        "could not record circuit breaker refusal",
      );
    this.host
      .logEvent(requestId, {
        type: "circuit_breaker_open",
        severity: "warning",
        message: "Circuit breaker prevented API call",
        data: details,
        ...(stage ? { stage } : {}),
      })
      .catch(warn);
    // opossum runs the fallback right after emitting "reject", in the same synchronous call;
    // a microtask later we know, and we are still ahead of the caller's own catch.
    queueMicrotask(() => {
      if (entry.refusal === refusal) entry.refusal = null;
      if (refusal.fellBack || stage === undefined) return;
      this.host
        .failStage(requestId, stage, {
          message: `${name} circuit breaker is open`,
          details,
          retryable: true,
        })
        .catch(warn);
    });
  }

  private checkRate(name: string, entry: Entry): void {
    const { failureRatePct } = statsOf(entry);
    const high = failureRatePct > entry.alertPct;
    if (high && !entry.high) {
      this.host.alert({
        name: "circuit_breaker_failure_rate",
        message: `${name} failure rate is ${failureRatePct}% (over ${entry.alertPct}%)`,
        requestId: currentScope()?.requestId ?? null,
        data: { circuit_breaker: name, ...statsOf(entry) },
      });
    }
    entry.high = high;
  }
}

function statsOf(entry: Entry): BreakerStats {
  const { breaker, calls, failures, rejected } = entry;
  return {
    state: breaker.opened ? "OPEN" : breaker.halfOpen ? "HALF_OPEN" : "CLOSED",
    totalCalls: calls,
    totalFailures: failures,
    totalRejected: rejected,
    failureRatePct: calls === 0 ? 0 : Math.round((failures / calls) * 1000) / 10,
  };
}

const registries = new WeakMap<BreakerHost, BreakerRegistry>();

/** The breaker registry of `host`, made on first use. */
export function breakersOf(host: BreakerHost): BreakerRegistry {
  let registry = registries.get(host);
  if (!registry) {
    registry = new BreakerRegistry(host);
    registries.set(host, registry);
  }
  return registry;
}

let opossum: typeof CircuitBreaker | undefined;

/**
 * opossum, loaded when the first breaker is made: a tracker that makes none never loads it.
 * Without it installed, a `MissingDependencyError` says what to install.
 */
function loadOpossum(): typeof CircuitBreaker {
  if (opossum) return opossum;
  try {
    opossum = createRequire(import.meta.url)("opossum") as typeof CircuitBreaker;
    return opossum;
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === "MODULE_NOT_FOUND") {
      throw new MissingDependencyError("opossum", "tracker.breaker()", { cause: error });
    }
    throw error;
  }
}
