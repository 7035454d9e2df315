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
    // A CliError that already says what its cause means (a raw `EEXIST`) ends the line.
    current =
      current instanceof Error && !(current instanceof CliError && current.causeShown === false)
        ? current.cause
        : undefined;
  }
  return parts.join(": ") || "failed";
}

/**
 * An expected failure of a command: printed as one line, exit code 1. With
 * `causeShown: false` the cause is kept on the error but left out of the line.
 */
export class CliError extends Error {
  override name = "CliError";
  readonly causeShown: boolean;

  constructor(message: string, options: ErrorOptions & { causeShown?: boolean } = {}) {
    super(message, options);
    this.causeShown = options.causeShown ?? true;
  }
}
