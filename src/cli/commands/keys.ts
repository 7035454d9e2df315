import type { Command } from "commander";
import type { ApiKeyRole } from "../../core/types.js";
import type { Tracker } from "../../tracker/tracker.js";
import { openTracker } from "../backend.js";
import { type PostgresFlags, withPostgresOptions } from "../postgres-options.js";
import { formatTable } from "../table.js";

const storageOption = process.env.REQTRACK_STORAGE ?? "data/reqtrack.db";

/** Opens the store for `fn`; read-only uses (`list`, `revoke`) never create one. */
async function withTracker<T>(
  flags: PostgresFlags,
  fn: (tracker: Tracker) => Promise<T>,
  mustExist = true,
): Promise<T> {
  const tracker = await openTracker(flags, mustExist);
  try {
    return await fn(tracker);
  } finally {
    await tracker.close();
  }
}

/** `reqtrack keys create|list|revoke`: API keys, whose secret is printed once and stored hashed. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("Manage API keys");
  withPostgresOptions(
    keys
      .command("create")
      .description("Create a key; its secret is printed once and only its SHA-256 is stored")
      .requiredOption("--role <role>", "admin | writer | viewer")
      .option("--tenant <tenant>", "the tenant a writer or viewer key is confined to")
      .option("--name <name>", "a label for the key")
      .option("--storage <path>", "SQLite file or postgres:// URL", storageOption)
      .option("--json", "print { id, key, role, tenantId } as JSON"),
  ).action(
    async (
      o: {
        role: string;
        tenant?: string;
        name?: string;
        json?: boolean;
      } & PostgresFlags,
    ) => {
      const created = await withTracker(
        o,
        (t) =>
          t.keys.create({
            role: o.role as ApiKeyRole,
            tenantId: o.tenant ?? null,
            name: o.name ?? null,
          }),
        false,
      );
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ id: created.id, key: created.key, role: created.role, tenantId: created.tenantId })}\n`,
        );
        return;
      }
      process.stdout.write(
        `Created ${created.role} key ${created.id}${created.tenantId ? ` for tenant ${created.tenantId}` : ""}.\n` +
          `Secret (shown once, store it now): ${created.key}\n` +
          `Use it as: Authorization: Bearer ${created.key}\n`,
      );
    },
  );
  withPostgresOptions(
    keys
      .command("list")
      .description("List keys (never their secrets)")
      .option("--storage <path>", "SQLite file or postgres:// URL", storageOption)
      .option("--json", "print JSON"),
  ).action(async (o: { json?: boolean } & PostgresFlags) => {
    const list = await withTracker(o, (t) => t.keys.list());
    if (o.json) {
      process.stdout.write(`${JSON.stringify(list)}\n`);
      return;
    }
    const rows = list.map((k) => ({
      id: k.id,
      role: k.role,
      tenant: k.tenantId ?? "(all)",
      name: k.name ?? "",
      created: k.createdAt.toISOString(),
      revoked: k.revokedAt?.toISOString() ?? "",
    }));
    process.stdout.write(`${formatTable(rows)}\n`);
  });
  withPostgresOptions(
    keys
      .command("revoke <id>")
      .description("Revoke a key: it is refused from now on")
      .option("--storage <path>", "SQLite file or postgres:// URL", storageOption),
  ).action(async (id: string, o: PostgresFlags) => {
    const revoked = await withTracker(o, (t) => t.keys.revoke(id));
    if (!revoked) {
      process.stderr.write(`No active key ${id}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`Revoked ${id}\n`);
  });
}

export { registerKeys as register };
