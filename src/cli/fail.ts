/**
 * One line for an error: its message, then its causes' messages (a failed migration shows the
 * database's own error), never a stack trace.
 */
export function oneLine(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    const line = message.split("\n")[0]?.trim() ?? "";
    // A cause whose message is JSON (zod's issue list) adds nothing to the line before it.
    const json = /^[[{]/.test(line);
    if (line !== "" && !json && !parts.some((p) => p.includes(line))) parts.push(line);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ") || "failed";
}

/** An expected failure of a command: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}
