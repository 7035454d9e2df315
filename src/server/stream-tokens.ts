import { randomBytes } from "node:crypto";
import type { Principal } from "./auth.js";

/** Live tokens kept at most; past it the oldest are forgotten (their streams stay open). */
const MAX_TOKENS = 10_000;

/**
 * Short-lived tokens for browsers' `EventSource`, which cannot send an Authorization header:
 * `POST /api/v1/stream/token` (with the key) issues one, and `GET /api/v1/stream?token=...`
 * accepts it in place of the key. A token carries its key's role and tenant, opens streams
 * until it expires (60 s by default; a stream opened with it stays open) and is known only to
 * the server that issued it. Tokens are kept in memory only.
 */
export class StreamTokens {
  private readonly tokens = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  issue(principal: Principal): { token: string; expiresAt: Date } {
    const now = this.clock();
    for (const [token, entry] of this.tokens) {
      if (entry.expiresAt <= now || this.tokens.size >= MAX_TOKENS) this.tokens.delete(token);
      else break; // issued in time order: the rest expire later
    }
    const token = `st_${randomBytes(24).toString("base64url")}`;
    const expiresAt = now + this.ttlMs;
    this.tokens.set(token, { principal, expiresAt });
    return { token, expiresAt: new Date(expiresAt) };
  }

  /** The principal a token stands for, or null when it is unknown or expired. */
  verify(token: string): Principal | null {
    const entry = this.tokens.get(token);
    if (!entry) return null;
    if (entry.expiresAt <= this.clock()) {
      this.tokens.delete(token);
      return null;
    }
    return entry.principal;
  }
}
