import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { reqtrack } from "../../src/integrations/hono.js";
import { describeHttpAdapter, handlers } from "./http-suite.js";

describeHttpAdapter("hono", async (tracker, options) => {
  const app = new Hono();
  app.use(reqtrack(tracker, options));
  app.get("/api/entities/:entityId", (c) =>
    c.json(handlers.read(tracker, c.req.param("entityId"))),
  );
  app.post("/api/entities/:entityId/files", async (c) =>
    c.json(await handlers.upload(await c.req.json()), 201),
  );
  app.post("/api/chat", (c) => c.json(handlers.chat()));
  app.get("/api/boom", () => handlers.boom());
  app.get("/health", (c) => c.json(handlers.health()));
  app.onError((error, c) => c.json({ error: error.message }, 500));
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
