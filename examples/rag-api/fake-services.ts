import { currentRequest } from "reqtrack";
import { realWait, type Wait } from "../shared/time.js";

/** USD per unit: what the fakes charge, like the real services' price lists. */
export const PRICES = {
  openaiPerToken: 0.00003,
  transformerPerChunk: 0.00001,
  fileProcessorPerPage: 0.002,
} as const;

const words = (text: string) => text.split(/\s+/).filter(Boolean);

/**
 * The RAG API's AI services, local and deterministic: an LLM (OpenAI), an embedder
 * (TRANSFORMER) and a document parser (FILE_PROCESSOR). Each call takes its latency and
 * records its cost on the current request, per service, per call.
 */
export class FakeServices {
  constructor(private readonly wait: Wait = realWait) {}

  async embed(texts: string[]): Promise<number[][]> {
    await this.wait(20);
    await currentRequest()?.recordCost({
      service: "transformer",
      amountUsd: texts.length * PRICES.transformerPerChunk,
      usage: { chunks: texts.length },
    });
    return texts.map((t) => [t.length % 7, words(t).length % 5, 1]);
  }

  async complete(prompt: string): Promise<string> {
    await this.wait(300);
    const tokens = words(prompt).length + 100;
    await currentRequest()?.recordCost({
      service: "openai",
      amountUsd: tokens * PRICES.openaiPerToken,
      usage: { tokens },
    });
    return `Based on the documents: ${prompt.slice(0, 60)}`;
  }

  async parse(filename: string, content: string): Promise<string[]> {
    await this.wait(150);
    const pages = Math.max(1, Math.ceil(content.length / 2000));
    await currentRequest()?.recordCost({
      service: "file_processor",
      amountUsd: pages * PRICES.fileProcessorPerPage,
      usage: { pages, filename },
    });
    return content.split(/\n\n+/).filter((c) => c.trim().length > 0);
  }
}
