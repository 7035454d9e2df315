import {
  createTracker,
  type Logger,
  type Request,
  type RequestRecord,
  type RequestStatus,
  type Tracker,
} from "reqtrack";
import { realWait, type Wait } from "../shared/time.js";
import { FakeNlu } from "./fake-nlu.js";

/** Seed 000's one kind of request: a chat message waiting for a processor. */
export const KIND = "chat_message";

export interface ChatLanesOptions {
  /** SQLite file or ":memory:". */
  storage: string;
  clock?: () => number;
  logger?: Logger;
  wait?: Wait;
  /** The watchdog's own timer; tests turn it off (0) and call `sweep()`. */
  watchdogIntervalMs?: number;
}

export interface NewChatRequest {
  channelId: string;
  userId: string;
  message: string;
  /** 0.0-1.0: >= 0.7 is the high lane, >= 0.3 normal, below that low. */
  priority?: number;
  /** Answer before this time, or the request times out. */
  deadline?: Date;
  source?: string;
  tags?: string[];
  /** The request this one follows up (the conversation chain). */
  parentId?: string;
}

/**
 * Seed 000 (a chat-request tracker with priority lanes) on reqtrack: requests with channel,
 * user, priority, deadline, source and tags; processors that claim the high lane before the
 * normal before the low; intent and entities found after creation written to the request;
 * the 5-minute run timeout and deadlines enforced by the watchdog; a user's history and a
 * search by channel, status and date.
 */
export async function createChatLanes(options: ChatLanesOptions) {
  const wait = options.wait ?? realWait;
  const tracker: Tracker = await createTracker({
    storage: options.storage,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    watchdogIntervalMs: options.watchdogIntervalMs ?? 1000,
    // Seed 000's stale-request cleanup: nobody picked it up within an hour.
    staleAfterMs: 60 * 60_000,
  });
  const nlu = new FakeNlu(wait);

  return {
    tracker,
    nlu,

    /** `create_request` of the seed. */
    submit(input: NewChatRequest): Promise<Request> {
      return tracker.createRequest({
        kind: KIND,
        channelId: input.channelId,
        userId: input.userId,
        initialMessage: input.message,
        priority: input.priority ?? 0.5,
        source: input.source ?? "chat",
        tags: input.tags ?? [],
        ...(input.deadline ? { deadline: input.deadline } : {}),
        ...(input.parentId ? { parentId: input.parentId } : {}),
      });
    },

    /**
     * One processor step: claim the best waiting request (high lane first), find its intent
     * and entities and write them to the request, answer, complete. Null when none waits.
     * `hang` leaves the claimed request running (a processor that never answers).
     */
    async processNext(processorId: string, { hang = false } = {}): Promise<Request | null> {
      // A lease longer than the run timeout: the timeout, not the lease, ends a hung run.
      const request = await tracker.claimNext({
        workerId: processorId,
        kinds: [KIND],
        leaseMs: 10 * 60_000,
      });
      if (!request || hang) return request;
      try {
        const found = await nlu.understand(request.initialMessage ?? "");
        await tracker.annotate(request, { intent: found.intent, entities: found.entities });
        const reply = await nlu.reply(found);
        await tracker.completeRequest(request, { reply });
      } catch (error) {
        await tracker.failRequest(request, { message: (error as Error).message });
      }
      return request;
    },

    /** Requests being processed right now, with their processor. */
    active: () => tracker.activeRequests(),

    /** `get_user_requests`: newest first. */
    userHistory: (userId: string, limit = 50): Promise<RequestRecord[]> =>
      tracker.getUserRequests(userId, { limit }),

    /** Search by channel, status and creation date ([from, to)). */
    async search(filter: {
      channelId?: string;
      userId?: string;
      status?: RequestStatus;
      from?: Date;
      to?: Date;
    }): Promise<RequestRecord[]> {
      return (await tracker.listRequests({ kind: KIND, ...filter })).items;
    },

    /** The follow-ups of a request, oldest first: the conversation walked forwards. */
    async followUps(id: string): Promise<RequestRecord[]> {
      return (await tracker.listRequests({ parentId: id })).items.reverse();
    },

    /** One watchdog pass: run timeouts (5 minutes), passed deadlines, stale requests. */
    sweep: () => tracker.sweep(),

    close: () => tracker.close(),
  };
}

export type ChatLanes = Awaited<ReturnType<typeof createChatLanes>>;
