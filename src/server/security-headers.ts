import fastifyCors from "@fastify/cors";
import type { FastifyInstance } from "fastify";

/**
 * The dashboard's policy: the built Vite app loads its module script and stylesheet from
 * /assets/ (no inline script anywhere), so scripts come from this origin only; the
 * components set style attributes, hence 'unsafe-inline' for styles alone.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** What a JSON (or text) answer may load: nothing; nor may any page frame it. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Headers on every answer: no MIME sniffing, no referrer beyond this origin, never framed.
 * Answers that set their own policy (the dashboard's pages) keep it; other HTML (the
 * /docs Swagger UI) gets none, since it runs its own scripts.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook("onSend", async (_request, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "same-origin");
    reply.header("x-frame-options", "DENY");
    const type = String(reply.getHeader("content-type") ?? "");
    if (!reply.hasHeader("content-security-policy") && !type.startsWith("text/html")) {
      reply.header("content-security-policy", API_CSP);
    }
    return payload;
  });
}

/**
 * CORS is off (no Access-Control-* header, so browsers keep other origins out) unless
 * `origins` lists the origins allowed to call the API, exactly as browsers send them.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[] | undefined) {
  if (!origins || origins.length === 0) return;
  await app.register(fastifyCors, {
    origin: [...origins],
    methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
    allowedHeaders: ["authorization", "content-type", "last-event-id"],
    maxAge: 600,
  });
}
