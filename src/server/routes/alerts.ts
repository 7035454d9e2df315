import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AlertEvent, Tracker } from "../../tracker/tracker.js";
import { errors } from "../openapi.js";

/** How many alerts the server remembers (newest kept). */
export const ALERT_HISTORY_SIZE = 200;

/** The answer of GET /api/v1/alerts. */
export const alertsSchema = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      message: z.string(),
      at: z.string(),
      requestId: z.string().nullable(),
      tenantId: z.string().nullable(),
      data: z.record(z.string(), z.unknown()).nullable(),
    }),
  ),
});

/**
 * GET /api/v1/alerts: the recent alerts of this server (breakers opening, failure rates,
 * budget thresholds), newest first, so a page opened after an alert still shows it. Alerts
 * come from this process (breakers live in it), kept in memory: a restart forgets them. A
 * tenant's key sees alerts without a tenant (a breaker) and its own tenant's, like the stream.
 */
export const alertRoutes: FastifyPluginAsyncZod<{ tracker: Tracker }> = async (
  app,
  { tracker },
) => {
  const recent: AlertEvent[] = [];
  const stop = tracker.subscribe((event) => {
    if (event.type !== "alert") return;
    recent.push(event);
    if (recent.length > ALERT_HISTORY_SIZE) recent.shift();
  });
  app.addHook("onClose", async () => stop());

  app.get(
    "/alerts",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "listAlerts",
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(ALERT_HISTORY_SIZE).default(50),
        }),
        response: { 200: alertsSchema, ...errors(400) },
        tags: ["breakers"],
      },
    },
    async (request) => {
      const own = request.principal.tenantId;
      const items: z.input<typeof alertsSchema>["items"] = [];
      for (let i = recent.length - 1; i >= 0 && items.length < request.query.limit; i--) {
        const a = recent[i] as AlertEvent;
        if (own !== null && a.tenantId && a.tenantId !== own) continue;
        items.push({
          name: a.name,
          message: a.message,
          at: new Date(a.at).toISOString(),
          requestId: a.requestId ?? null,
          tenantId: a.tenantId ?? null,
          data: a.data ?? null,
        });
      }
      return { items };
    },
  );
};
