import { currentRequestId } from "reqtrack";

/**
 * The crew's log, in the text format its operators grep: `[time] [LEVEL] [request id] message`.
 * The id is the current request's, or "unknown" outside any request; a component that got
 * the id over HTTP without joining the scope passes it.
 */
export class CrewLog {
  readonly lines: string[] = [];

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly print = false,
  ) {}

  info(message: string, requestId = currentRequestId()): void {
    this.write("INFO", message, requestId);
  }

  error(message: string, requestId = currentRequestId()): void {
    this.write("ERROR", message, requestId);
  }

  /** The lines of one request, without their time and level. */
  of(requestId: string): string[] {
    const tag = `] [${requestId}] `;
    return this.lines
      .filter((l) => l.includes(tag))
      .map((l) => l.slice(l.indexOf(tag) + tag.length));
  }

  private write(level: string, message: string, requestId: string): void {
    const time = new Date(this.clock()).toISOString().slice(0, 19).replace("T", " ");
    const line = `[${time}] [${level}] [${requestId}] ${message}`;
    this.lines.push(line);
    if (this.print) console.log(line);
  }
}
