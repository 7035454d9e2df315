import type { Wait } from "../shared/time.js";

/** A slash command as the fake gateway delivers it (what discord.js hands a bot). */
export interface Interaction {
  id: string;
  command: "veo" | "history" | "stats";
  userId: string;
  guildId: string;
  channelId: string;
  options: Record<string, string | number | boolean>;
}

/**
 * A local stand-in for the Discord gateway: `dispatch()` feeds a slash command to the bot's
 * handler, and every reply (first answer and follow-ups) lands in `replies`. No network.
 */
export class FakeGateway {
  readonly replies: { interactionId: string; content: string }[] = [];
  private handler: ((i: Interaction, reply: (content: string) => void) => Promise<void>) | null =
    null;
  private n = 0;

  onCommand(handler: (i: Interaction, reply: (content: string) => void) => Promise<void>): void {
    this.handler = handler;
  }

  async dispatch(input: Omit<Interaction, "id">): Promise<string[]> {
    const id = `ix-${++this.n}`;
    const mine: string[] = [];
    await this.handler?.({ ...input, id }, (content) => {
      mine.push(content);
      this.replies.push({ interactionId: id, content });
    });
    return mine;
  }
}

/**
 * A local stand-in for Vertex AI's video model: an operation starts after 300 ms and
 * finishes after `pollsToFinish` polls. On purpose: a prompt containing "forbidden" fails
 * (a safety refusal), one containing "endless" never finishes (the 5-minute timeout).
 */
export class FakeVertex {
  private readonly operations = new Map<string, { prompt: string; polls: number }>();
  private n = 0;

  constructor(
    private readonly wait: Wait,
    readonly pollsToFinish = 3,
  ) {}

  async startOperation(prompt: string): Promise<{ operationName: string; gcsPrefix: string }> {
    await this.wait(300);
    const name = `projects/demo/operations/veo-${++this.n}`;
    this.operations.set(name, { prompt, polls: 0 });
    return { operationName: name, gcsPrefix: `gs://demo-bucket/veo/${this.n}/` };
  }

  /** One poll (10 s apart, like the seed's): done, failed, or still running. */
  async poll(name: string): Promise<{ done: boolean; error?: string; videoUrls?: string[] }> {
    await this.wait(10_000);
    const op = this.operations.get(name);
    if (!op) return { done: true, error: "operation not found" };
    op.polls++;
    if (/forbidden/i.test(op.prompt))
      return { done: true, error: "prompt refused by the safety filter" };
    if (/endless/i.test(op.prompt) || op.polls < this.pollsToFinish) return { done: false };
    return { done: true, videoUrls: [`https://storage.example/${name.split("/").pop()}.mp4`] };
  }
}
