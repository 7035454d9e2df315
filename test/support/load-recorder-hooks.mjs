// The resolve hook of load-recorder.mjs: appends each resolved URL to the record file.
import { appendFileSync } from "node:fs";

let file;

export function initialize(data) {
  file = data?.file;
  if (!file) throw new Error("load-recorder: set REQTRACK_LOAD_RECORD to a file path");
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
