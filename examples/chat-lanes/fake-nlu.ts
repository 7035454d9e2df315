import type { Wait } from "../shared/time.js";

/** What the fake language service finds in a message. */
export interface Understanding {
  intent: string;
  entities: Record<string, string>;
}

const INTENTS: [RegExp, string][] = [
  [/\b(book|reserve)\b/i, "book_room"],
  [/\b(refund|charge|invoice)\b/i, "billing"],
  [/\b(hi|hello|hey)\b/i, "greeting"],
];

const DAYS = /\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b/i;

/**
 * A local stand-in for an intent/entity model: keyword rules, 40 ms of latency per call, and
 * a failure on purpose for any message that mentions "crash" (what a model outage looks like
 * to the tracker). No network.
 */
export class FakeNlu {
  calls = 0;

  constructor(
    private readonly wait: Wait,
    readonly latencyMs = 40,
  ) {}

  async understand(message: string): Promise<Understanding> {
    this.calls++;
    await this.wait(this.latencyMs);
    if (/crash/i.test(message)) throw new Error("nlu model unavailable (fake outage)");
    const intent = INTENTS.find(([pattern]) => pattern.test(message))?.[1] ?? "question";
    const entities: Record<string, string> = {};
    const day = DAYS.exec(message)?.[1];
    if (day) entities.day = day.toLowerCase();
    const room = /\broom\s+([A-Z0-9]+)\b/i.exec(message)?.[1];
    if (room) entities.room = room.toUpperCase();
    return { intent, entities };
  }

  async reply(understanding: Understanding): Promise<string> {
    await this.wait(this.latencyMs);
    return `(${understanding.intent}) on it${understanding.entities.day ? ` for ${understanding.entities.day}` : ""}.`;
  }
}
