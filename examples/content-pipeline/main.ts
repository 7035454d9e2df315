import { mkdirSync } from "node:fs";
import { serve } from "reqtrack/server";
import type { RunningExample } from "../run.js";
import { createContentPipeline } from "./app.js";
import { FakeServices } from "./fake-services.js";

/**
 * The demo: a submission every 1.5 s; Nano Banana goes down for 10 s of every 40 (its breaker
 * opens and alerts on the dashboard), and failed requests are retried from their failed stage.
 */
export async function main(port: number): Promise<RunningExample> {
  mkdirSync("data/examples", { recursive: true });
  const services = await new FakeServices().start();
  const pipeline = await createContentPipeline({
    storage: "data/examples/content-pipeline.db",
    servicesUrl: services.url,
  });
  const server = await serve({ tracker: pipeline.tracker, port });
  const topics = ["Photosynthesis", "Plate tectonics", "Fractions", "The water cycle"];
  let n = 0;
  const timers = [
    setInterval(() => {
      const topic = topics[n++ % topics.length] ?? "Photosynthesis";
      void pipeline.submit({
        studentId: `student-${n % 7}`,
        orgId: `school-${n % 2}`,
        topic,
        learningObjective: `Explain ${topic}`,
      });
    }, 1500),
    setInterval(() => void pipeline.processNext(), 500),
    setInterval(() => {
      const down = Math.floor(Date.now() / 10_000) % 4 === 0;
      if (down) services.failing.add("nano_banana");
      else services.failing.delete("nano_banana");
    }, 1000),
    setInterval(async () => {
      const failed = await pipeline.tracker.listRequests({ status: "failed", limit: 5 });
      for (const r of failed.items)
        if (r.attempts < r.maxAttempts) await pipeline.retry(r.id).catch(() => {});
    }, 5000),
  ];
  return {
    lines: [
      `dashboard:        ${server.url}/   (live: stages, events, alerts)`,
      `breakers:         ${server.url}/api/v1/breakers`,
      `stage breakdown:  ${server.url}/api/v1/stats/stages?window=1h`,
      `fake services:    ${services.url} (Nano Banana is down 10 s of every 40)`,
    ],
    async close() {
      for (const t of timers) clearInterval(t);
      await server.close();
      await services.stop();
    },
  };
}
