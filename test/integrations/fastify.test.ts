import Fastify from "fastify";
import { reqtrack } from "../../src/integrations/fastify.js";
import { describeHttpAdapter, handlers } from "./http-suite.js";

describeHttpAdapter("fastify", async (tracker, options) => {
  const app = Fastify();
  await app.register(reqtrack, { tracker, ...options });
  app.get<{ Params: { entityId: string } }>("/api/entities/:entityId", async (request) =>
    handlers.read(tracker, request.params.entityId),
  );
  app.post("/api/entities/:entityId/files", async (request, reply) =>
    reply.code(201).send(await handlers.upload(request.body)),
  );
  app.post("/api/chat", async () => handlers.chat());
  app.get("/api/boom", async () => handlers.boom());
  app.get("/health", async () => handlers.health());
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, close: () => app.close() };
});
