import type { Command } from "commander";
import { CliError } from "../fail.js";

const COLOURS: Record<string, string> = {
  pending: "\x1b[90m",
  running: "\x1b[36m",
  completed: "\x1b[32m",
  failed: "\x1b[31m",
  timeout: "\x1b[33m",
  cancelled: "\x1b[35m",
};

/**
 * Colours on a terminal, or anywhere when FORCE_COLOR is set (not "0"), and never when NO_COLOR
 * is set (https://no-color.org).
 */
export function useColour(stream: NodeJS.WriteStream, env = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0")
    return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/** One line of the live stream: time, change, status, request, what changed. */
export function tailLine(type: string, change: Record<string, unknown>, colour: boolean): string {
  const status = String(change.status ?? "");
  const data = (change.data ?? {}) as Record<string, unknown>;
  const detail = Object.entries(data)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  const at = typeof change.at === "string" ? change.at.slice(11, 23) : "";
  const painted = colour ? `${COLOURS[status] ?? ""}${status.padEnd(9)}\x1b[0m` : status.padEnd(9);
  return `${at} ${type.padEnd(16)} ${painted} ${String(change.requestId ?? "")} ${String(change.tenantId ?? "-")} ${detail}`.trimEnd();
}

/** `reqtrack tail`: follows `GET /api/v1/stream` (server-sent events) until Ctrl-C. */
export function register(program: Command): void {
  program
    .command("tail")
    .description("Follow a server's live stream, coloured by status (NO_COLOR off, FORCE_COLOR on)")
    .option("--url <url>", "the server (env REQTRACK_URL)")
    .option("--key <key>", "API key (env REQTRACK_KEY)")
    .option("--status <list>", "only these statuses (comma list)")
    .option("--kind <kind>", "only this kind")
    .option("--tenant <id>", "only this tenant")
    .option("--json", "print each change as one JSON line")
    .action(
      async (flags: {
        url?: string;
        key?: string;
        status?: string;
        kind?: string;
        tenant?: string;
        json?: boolean;
      }) => {
        const url = flags.url ?? process.env.REQTRACK_URL;
        if (!url) {
          throw new CliError(
            "tail follows a server's live stream: pass --url (or set REQTRACK_URL); a SQLite file has no live feed across processes",
          );
        }
        const { RemoteBackend } = await import("../remote-backend.js");
        const backend = new RemoteBackend(url, flags.key ?? process.env.REQTRACK_KEY);
        const abort = new AbortController();
        process.once("SIGINT", () => abort.abort());
        const colour = !flags.json && useColour(process.stdout);
        const response = await backend.stream(
          { status: flags.status, kind: flags.kind, tenantId: flags.tenant },
          abort.signal,
        );
        // On stderr, so the stream on stdout stays clean; scripts can wait for it.
        process.stderr.write(`Following ${url} (Ctrl-C to stop)\n`);
        const decoder = new TextDecoder();
        let buffer = "";
        try {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            let end: number;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? "message";
              const data = block
                .split("\n")
                .filter((l) => l.startsWith("data:"))
                .map((l) => l.slice(5).trimStart())
                .join("\n");
              if (!data) continue;
              const change = JSON.parse(data) as Record<string, unknown>;
              process.stdout.write(
                flags.json
                  ? `${JSON.stringify({ event, ...change })}\n`
                  : `${tailLine(event, change, colour)}\n`,
              );
            }
          }
        } catch (error) {
          if (!abort.signal.aborted) throw error;
        }
      },
    );
}
