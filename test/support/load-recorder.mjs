// Loaded with `node --import <this file>`: records every module the process loads (after
// resolution) in the file named by REQTRACK_LOAD_RECORD, one URL a line. The hooks run in
// their own thread and append synchronously, so the list is complete even on process.exit.
import { register } from "node:module";
import process from "node:process";

register("./load-recorder-hooks.mjs", import.meta.url, {
  data: { file: process.env.REQTRACK_LOAD_RECORD },
});
