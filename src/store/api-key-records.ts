import type { ApiKey } from "../core/types.js";
import { type ApiKeyRow, toApiKey } from "./rows.js";
import type { SqlRunner } from "./sql-runner.js";

/**
 * API keys, the same statements on every store. Only a key's hash is kept: the secret is
 * shown once, at creation (see tracker/keys).
 */
export class ApiKeyRecords {
  constructor(private readonly sql: SqlRunner) {}

  async save(key: ApiKey & { hash: string }): Promise<void> {
    await this.sql.run(
      `INSERT INTO api_keys (id, name, hash, role, tenant_id, created_at, revoked_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        key.id,
        key.name,
        key.hash,
        key.role,
        key.tenantId,
        key.createdAt.getTime(),
        key.revokedAt?.getTime() ?? null,
      ],
    );
  }

  async find(hash: string): Promise<ApiKey | null> {
    const [row] = await this.sql.rows<ApiKeyRow>("SELECT * FROM api_keys WHERE hash = $1", [hash]);
    return row ? toApiKey(row) : null;
  }

  async list(): Promise<ApiKey[]> {
    const rows = await this.sql.rows<ApiKeyRow>("SELECT * FROM api_keys ORDER BY created_at, id");
    return rows.map(toApiKey);
  }

  /** Revokes a live key; false when there is none of that id (or it was revoked already). */
  async revoke(id: string, at: number): Promise<boolean> {
    const changed = await this.sql.run(
      "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
      [at, id],
    );
    return changed === 1;
  }
}
