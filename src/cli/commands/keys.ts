import type { Command } from "commander";
import type { ApiKeyRole } from "../../core/types.js";
import type { PostgresFlags } from "../postgres-options.js";
import { formatTable } from "../table.js";
import { withLocalTracker, withStorage } from "./tracker-flags.js";

/** `reqtrack keys create|list|revoke`: API keys, whose secret is printed once and stored hashed. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("Manage API keys");
  withStorage(
    keys
      .command("create")
      .description("Create a key; its secret is printed once and only its SHA-256 is stored")
      .requiredOption("--role <role>", "admin | writer | viewer")
      .option("--tenant <tenant>", "the tenant a writer or viewer key is confined to")
      .option("--name <name>", "a label for the key")
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
      const created = await withLocalTracker(
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
  withStorage(
    keys
      .command("list")
      .description("List keys (never their secrets)")
      .option("--json", "print JSON"),
  ).action(async (o: { json?: boolean } & PostgresFlags) => {
    const list = await withLocalTracker(o, (t) => t.keys.list());
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
  withStorage(
    keys.command("revoke <id>").description("Revoke a key: it is refused from now on"),
  ).action(async (id: string, o: PostgresFlags) => {
    const revoked = await withLocalTracker(o, (t) => t.keys.revoke(id));
    if (!revoked) {
      process.stderr.write(`No active key ${id}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`Revoked ${id}\n`);
  });
}

export { registerKeys as register };
