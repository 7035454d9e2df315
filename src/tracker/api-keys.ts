import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { ValidationError } from "../core/errors.js";
import { parse } from "../core/schemas.js";
import { API_KEY_ROLES, type ApiKey, type ApiKeyRole } from "../core/types.js";
import type { Store } from "../store/store.js";

/** What `create()` returns: the only time the secret `key` is ever shown. */
export interface CreatedApiKey {
  id: string;
  key: string;
  role: ApiKeyRole;
  tenantId: string | null;
  name: string | null;
}

const createKeySchema = z.strictObject({
  role: z.enum(API_KEY_ROLES),
  tenantId: z.string().min(1).max(256).optional().nullable(),
  name: z.string().min(1).max(100).optional().nullable(),
});

/** How long a verified key is trusted without asking the store again. */
const CACHE_MS = 5_000;

/** How long "no key exists" is believed before a keyless server asks the store again. */
const KEYLESS_RECHECK_MS = 1_000;

/** Active keys one store may hold: enough for every tenant's writer and viewer, not a flood. */
export const MAX_ACTIVE_KEYS = 1_000;

/** SHA-256 of a secret, hex: the only form in which secrets are stored. */
export const hashSecret = (secret: string): string =>
  createHash("sha256").update(secret).digest("hex");

/**
 * API keys: `rt_` + 32 URL-safe random characters, stored as SHA-256 only. Admin keys see
 * every tenant; writer and viewer keys are confined to one tenant, so they need one.
 */
export class ApiKeys {
  private readonly cache = new Map<string, { key: ApiKey | null; until: number }>();
  private keylessUntil = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: () => number,
  ) {}

  async create(input: {
    role: ApiKeyRole;
    tenantId?: string | null;
    name?: string | null;
  }): Promise<CreatedApiKey> {
    const data = parse(createKeySchema, input, "key");
    const tenantId = data.tenantId ?? null;
    if (data.role === "admin" && tenantId !== null) {
      throw new ValidationError("tenantId", "admin keys see every tenant; leave the tenant out");
    }
    if (data.role !== "admin" && tenantId === null) {
      throw new ValidationError(
        "tenantId",
        `a ${data.role} key is confined to one tenant; give one`,
      );
    }
    if ((await this.countActive()) >= MAX_ACTIVE_KEYS) {
      throw new ValidationError(
        "key",
        `at most ${MAX_ACTIVE_KEYS} active keys; revoke one before creating another`,
      );
    }
    const secret = `rt_${randomBytes(24).toString("base64url")}`;
    const key: ApiKey = {
      id: `key_${randomBytes(8).toString("hex")}`,
      name: data.name ?? null,
      role: data.role,
      tenantId,
      createdAt: new Date(this.clock()),
      revokedAt: null,
    };
    await this.store.saveApiKey({ ...key, hash: hashSecret(secret) });
    this.keylessUntil = 0;
    return { id: key.id, key: secret, role: key.role, tenantId, name: key.name };
  }

  list(): Promise<ApiKey[]> {
    return this.store.listApiKeys();
  }

  /**
   * Whether any active key exists, as a keyless server asks on each call: "none" is cached
   * for a second (keys made by this process are seen at once, by another one, such as
   * `reqtrack keys create`, within that second), so an open server costs one query a second.
   */
  async anyActive(): Promise<boolean> {
    if (this.clock() < this.keylessUntil) return false;
    const any = (await this.countActive()) > 0;
    if (!any) this.keylessUntil = this.clock() + KEYLESS_RECHECK_MS;
    return any;
  }

  /** Active keys (not revoked). With none, the server runs open on 127.0.0.1 only. */
  async countActive(): Promise<number> {
    return (await this.store.listApiKeys()).filter((k) => k.revokedAt === null).length;
  }

  async revoke(id: string): Promise<boolean> {
    const revoked = await this.store.revokeApiKey(id, this.clock());
    this.cache.clear();
    return revoked;
  }

  /**
   * The active key for `secret`, or null (unknown or revoked). Answers are cached for 5 s
   * per secret: a revocation made in another process takes effect within that time. The
   * secret itself is never compared: its SHA-256 is looked up, so how long a lookup takes
   * tells nothing about which characters of a guess were right.
   */
  async verify(secret: string): Promise<ApiKey | null> {
    const now = this.clock();
    const hash = hashSecret(secret);
    const cached = this.cache.get(hash);
    if (cached && cached.until > now) return cached.key;
    const found = await this.store.findApiKey(hash);
    const key = found && found.revokedAt === null ? found : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { key, until: now + CACHE_MS });
    return key;
  }
}
