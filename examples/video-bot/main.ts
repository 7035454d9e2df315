import { mkdirSync } from "node:fs";
import { serve } from "reqtrack/server";
import type { RunningExample } from "../run.js";
import { createVideoBot } from "./app.js";

/** The demo: a fake guild sending /veo commands every two seconds, plus /stats now and then. */
export async function main(port: number): Promise<RunningExample> {
  mkdirSync("data/examples", { recursive: true });
  const bot = await createVideoBot({
    storage: "data/examples/video-bot.db",
    perUserHourlyLimit: 1000,
  });
  const server = await serve({ tracker: bot.tracker, port });
  const prompts = [
    ["a cat surfing at sunset", "16:9"],
    ["city timelapse in the rain", "9:16"],
    ["forbidden scene", "16:9"],
    ["a paper boat on a river", "1:1"],
  ] as const;
  let n = 0;
  const feed = setInterval(() => {
    const [prompt, aspect] = prompts[n % prompts.length] ?? prompts[0];
    const command = n % 5 === 4 ? "stats" : "veo";
    n++;
    void bot.gateway
      .dispatch({
        command,
        userId: `user-${n % 3}`,
        guildId: "guild-1",
        channelId: "videos",
        options: { prompt, aspect_ratio: aspect },
      })
      .then((replies) =>
        replies.forEach((r) => console.log(`  [bot] ${r.replaceAll("\n", " | ")}`)),
      );
  }, 2000);
  return {
    lines: [
      `dashboard:     ${server.url}/`,
      `guild stats:   ${server.url}/api/v1/stats/groups/tenantId/guild-1`,
      `24 h overview: ${server.url}/api/v1/stats/overview?window=24h`,
      "a fake Discord gateway sends /veo every 2 s; each video takes ~30 s; the bot's replies print below",
    ],
    async close() {
      clearInterval(feed);
      await server.close();
    },
  };
}
