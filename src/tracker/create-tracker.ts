import { openStore } from "../store/open-store.js";
import { resolveOptions, type TrackerOptions } from "./options.js";
import { FileOutbox, MemoryOutbox } from "./outbox.js";
import { Tracker } from "./tracker.js";

/**
 * Opens (or creates) the store and returns a tracker on it.
 *
 * @example
 * const tracker = await createTracker({ storage: "data/requests.db" });
 * // or, for several servers on one database:
 * const shared = await createTracker({
 *   storage: "postgres://localhost/reqtrack",
 *   postgres: { schema: "reqtrack", maxConnections: 20 },
 * });
 * const req = await tracker.createRequest({ userId: "user-1", initialMessage: "Make a video" });
 */
export async function createTracker(options: TrackerOptions = {}): Promise<Tracker> {
  const resolved = resolveOptions(options);
  const store =
    typeof resolved.storage === "string"
      ? await openStore(resolved.storage, {
          postgres: { ...resolved.postgres, now: resolved.clock },
          sqlite: {
            busyTimeoutMs: resolved.busyTimeoutMs,
            durability: resolved.durability,
            now: resolved.clock,
          },
        })
      : resolved.storage;
  const outbox = resolved.outboxPath ? new FileOutbox(resolved.outboxPath) : new MemoryOutbox();
  const tracker = new Tracker(store, outbox, resolved);
  await tracker.budgets.start();
  return tracker;
}
