import { createServer, type Server, type ServerResponse } from "node:http";
import express from "express";
import { reqtrack } from "../../src/integrations/express.js";
import { describeHttpAdapter, handlers } from "./http-suite.js";

async function listen(server: Server) {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describeHttpAdapter("express", async (tracker, options) => {
  const app = express();
  const track = reqtrack(tracker, options);
  app.use(track);
  app.use(express.json());
  app.get("/api/entities/:entityId", (req, res) => {
    res.json(handlers.read(tracker, req.params.entityId));
  });
  app.post("/api/entities/:entityId/files", async (req, res) => {
    res.status(201).json(await handlers.upload(req.body));
  });
  app.post("/api/chat", (_req, res) => {
    res.json(handlers.chat());
  });
  app.get("/api/boom", () => handlers.boom());
  app.get("/health", (_req, res) => {
    res.json(handlers.health());
  });
  app.use(track.errors);
  return listen(createServer(app));
});

describeHttpAdapter(
  "node:http",
  async (tracker, options) => {
    const track = reqtrack(tracker, options);
    const json = (res: ServerResponse, status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    const server = createServer((req, res) => {
      track(req, res, async () => {
        const url = new URL(req.url ?? "/", "http://localhost");
        const entity = /^\/api\/entities\/([^/]+)$/.exec(url.pathname);
        const files = /^\/api\/entities\/([^/]+)\/files$/.exec(url.pathname);
        try {
          if (req.method === "GET" && entity)
            return json(res, 200, handlers.read(tracker, entity[1]!));
          if (req.method === "POST" && files) {
            let raw = "";
            for await (const chunk of req) raw += chunk;
            return json(res, 201, await handlers.upload(JSON.parse(raw)));
          }
          if (req.method === "POST" && url.pathname === "/api/chat")
            return json(res, 200, handlers.chat());
          if (url.pathname === "/api/boom") return json(res, 200, handlers.boom());
          if (url.pathname === "/health") return json(res, 200, handlers.health());
          json(res, 404, { error: "not found" });
        } catch (error) {
          json(res, 500, { error: (error as Error).message });
          throw error;
        }
      }).catch(() => {
        // The handler's error was answered above; the middleware recorded it on the way out.
      });
    });
    return listen(server);
  },
  { routePatterns: false },
);
