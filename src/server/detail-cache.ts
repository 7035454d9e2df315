/** One cached answer of `GET /api/v1/requests/:id`: the body as sent, and whose it is. */
export interface CachedDetail {
  /** The request's tenant, checked against the caller's on every hit. */
  tenantId: string | null;
  /** The serialized body (a string, so no caller can change what the next one gets). */
  json: string;
}

/** Sizes of the detail cache; `maxEntries: 0` turns it off. */
export interface DetailCacheOptions {
  /** Requests kept (least recently used dropped first). Default 1024. */
  maxEntries?: number;
  /** Characters of JSON kept in all (about bytes). Default 8 Mi. */
  maxChars?: number;
}

/** A body above this share of `maxChars` is never kept: one huge request must not flush the rest. */
const LARGEST_SHARE = 1 / 32;

/**
 * The recently read request details, each keyed on the store's change stamp read before it
 * (`Tracker.changeStamp`): any write to the store, through this tracker or another connection,
 * moves the stamp, so an entry is served only while nothing at all was written since it was
 * read. That is coarse (one write anywhere empties it in effect) and therefore correct
 * without knowing which write touches which request: status changes, stages, costs, events,
 * context, soft deletes, purges, the watchdog, replays. A store without a stamp (PostgreSQL)
 * caches nothing.
 */
export class DetailCache {
  private readonly entries = new Map<string, CachedDetail & { stamp: string }>();
  private chars = 0;
  private readonly maxEntries: number;
  private readonly maxChars: number;

  constructor(options: DetailCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1024;
    this.maxChars = options.maxChars ?? 8 * 1024 * 1024;
  }

  /** The entry for `id` when it was read under `stamp`; a stale one is dropped. */
  get(id: string, stamp: string | null): CachedDetail | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.drop(id, entry);
    if (stamp === null || entry.stamp !== stamp) return undefined;
    this.entries.set(id, entry); // most recently used last
    this.chars += entry.json.length;
    return entry;
  }

  /** Keeps `detail`, read after `stamp` was; nothing when the store keeps no stamp. */
  set(id: string, stamp: string | null, detail: CachedDetail): void {
    const old = this.entries.get(id);
    if (old) this.drop(id, old);
    if (stamp === null || this.maxEntries === 0) return;
    if (detail.json.length > this.maxChars * LARGEST_SHARE) return;
    this.entries.set(id, { ...detail, stamp });
    this.chars += detail.json.length;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) break;
      this.drop(oldest, entry);
    }
  }

  /** Forgets `id` (it was not found). */
  delete(id: string): void {
    const entry = this.entries.get(id);
    if (entry) this.drop(id, entry);
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(id: string, entry: CachedDetail): void {
    this.entries.delete(id);
    this.chars -= entry.json.length;
  }
}
