import {
  createTracker,
  currentRequest,
  type Logger,
  type Request,
  type Tracker,
  trackedFetch,
} from "reqtrack";

export const KIND = "content_generation";

/** The six stages of seed 002, in order. */
export const STAGES = [
  "validation",
  "rag_retrieval",
  "script_generation",
  "video_generation",
  "video_processing",
  "notification",
] as const;

export interface ContentPipelineOptions {
  storage: string;
  /** Base URL of the external services (the fakes' local server). */
  servicesUrl: string;
  clock?: () => number;
  logger?: Logger;
}

/** An external service answered with an error status: retryable, like the outage it is. */
class ServiceError extends Error {
  readonly retryable = true;
}

/**
 * Seed 002 (a six-stage content pipeline) on reqtrack: a request per student submission with
 * a correlation id made at creation, each stage tracked (`trackStage`), every external call
 * sent with `X-Correlation-ID` and the other propagation headers (`trackedFetch`), Gemini
 * and Nano Banana behind circuit breakers that fail the stage as retryable and alert when
 * they open, and retries that resume at the stage that failed.
 */
export async function createContentPipeline(options: ContentPipelineOptions) {
  const tracker: Tracker = await createTracker({
    storage: options.storage,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    defaultMaxAttempts: 3,
  });

  async function call<T>(service: string, body: unknown): Promise<T> {
    const response = await trackedFetch(`${options.servicesUrl}/${service}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new ServiceError(json.error ?? `${service}: HTTP ${response.status}`);
    return json;
  }

  // Breakers open at 50 % failures once 2 calls were made; opossum's own timer half-opens
  // them after 30 s.
  const breakerOptions = {
    errorThresholdPercentage: 50,
    volumeThreshold: 2,
    timeout: false as const,
  };
  const gemini = tracker.breaker(
    "gemini_api",
    (topic: string, chunks: unknown) =>
      call<{ script: string; usage: { input_tokens: number; output_tokens: number } }>("gemini", {
        topic,
        chunks,
      }),
    breakerOptions,
  );
  const nanoBanana = tracker.breaker(
    "nano_banana_api",
    (script: string, topic: string) =>
      call<{ video_url: string; seconds: number }>("nano_banana", { script, topic }),
    breakerOptions,
  );

  /** Runs the stages not yet completed, in order; each stage's output feeds the next. */
  async function runStages(request: Request): Promise<unknown> {
    const outputs = new Map<string, Record<string, unknown>>();
    for (const s of request.stages) {
      if (s.status === "completed")
        outputs.set(s.name, (s.output ?? {}) as Record<string, unknown>);
    }
    const input = request.input as { topic: string; learning_objective: string; email: string };
    const topic = input.topic;
    const handle = currentRequest();
    if (!handle) throw new Error("runStages must run inside the request's scope");
    const stage = async (
      name: (typeof STAGES)[number],
      fn: () => Promise<Record<string, unknown>>,
    ) => {
      if (outputs.has(name)) return outputs.get(name) as Record<string, unknown>;
      const output = await handle.trackStage(name, fn, {
        retryable: (e) =>
          e instanceof ServiceError || (e as { code?: string }).code === "EOPENBREAKER",
      });
      outputs.set(name, output);
      return output;
    };

    await stage("validation", async () => {
      if (topic.length < 3) throw new Error("Topic must be at least 3 characters");
      await handle.logEvent({
        type: "validation_passed",
        message: "Request validation successful",
      });
      return { ok: true };
    });
    const rag = await stage("rag_retrieval", async () => {
      await handle.logEvent({
        type: "api_call",
        message: "Querying Vector Search for OER content",
      });
      const { chunks } = await call<{ chunks: { source: string }[] }>("vector_search", { topic });
      await handle.recordCost({
        service: "vector_search",
        amountUsd: 0.0002,
        usage: { queries: 1 },
      });
      return { chunks_retrieved: chunks.length, sources: chunks.map((c) => c.source) };
    });
    const script = await stage("script_generation", async () => {
      await handle.logEvent({
        type: "api_call",
        message: "Calling Gemini API for script generation",
      });
      const answer = await gemini.fire(topic, rag.sources);
      const tokens = answer.usage.input_tokens + answer.usage.output_tokens;
      await handle.recordCost({
        service: "gemini",
        amountUsd: tokens * 0.000002,
        usage: answer.usage,
      });
      return { script: answer.script, word_count: answer.script.split(/\s+/).length };
    });
    const video = await stage("video_generation", async () => {
      await handle.logEvent({
        type: "api_call",
        message: "Calling Nano Banana API for video generation",
      });
      const answer = await nanoBanana.fire(String(script.script), topic);
      await handle.recordCost({
        service: "nano_banana",
        amountUsd: answer.seconds * 0.001,
        usage: { seconds: answer.seconds },
      });
      return { video_url: answer.video_url };
    });
    const processed = await stage("video_processing", async () => {
      const uploaded = await call<{ cdn_url: string; thumbnail_url: string }>("cdn", {
        source: video.video_url,
        filename: `${request.id}.mp4`,
      });
      await handle.logEvent({
        type: "video_uploaded",
        message: `Video uploaded to CDN: ${uploaded.cdn_url}`,
      });
      return uploaded;
    });
    await stage("notification", async () => {
      await call("email", {
        to: input.email,
        template: "content_ready",
        video_url: processed.cdn_url,
      });
      await handle.logEvent({ type: "notification_sent", message: "Email sent to student" });
      return { sent: true };
    });
    return {
      video_url: processed.cdn_url,
      thumbnail_url: processed.thumbnail_url,
      script_words: script.word_count,
    };
  }

  return {
    tracker,
    breakers: { gemini, nanoBanana },

    /** A student's submission: the request, with its correlation id made at creation. */
    submit(input: {
      studentId: string;
      orgId: string;
      topic: string;
      learningObjective: string;
      email?: string;
    }) {
      return tracker.createRequest({
        kind: KIND,
        userId: input.studentId,
        tenantId: input.orgId,
        source: "web_app",
        input: {
          topic: input.topic,
          learning_objective: input.learningObjective,
          grade_level: "10",
          duration_minutes: 5,
          email: input.email ?? `${input.studentId}@school.example`,
        },
      });
    },

    /**
     * One worker step: claims the next request and runs its remaining stages in its scope;
     * completes it, or fails it at the stage that failed. Null when nothing waits.
     */
    async processNext(workerId = "content-worker"): Promise<Request | null> {
      const request = await tracker.claimNext({ workerId, kinds: [KIND] });
      if (!request) return null;
      await tracker.withRequest(request, async () => {
        try {
          await tracker.completeRequest(request, await runStages(request));
        } catch (error) {
          await tracker.failRequest(request, { message: (error as Error).message });
        }
      });
      return request;
    },

    /** The seed's `retry_failed_request`: back to pending, to resume at the failed stage. */
    retry: (id: string) => tracker.retryRequest(id),

    close: () => tracker.close(),
  };
}

export type ContentPipeline = Awaited<ReturnType<typeof createContentPipeline>>;
