import { SqliteStore } from "../../src/index.js";
import { seedDirect } from "./direct-seed.js";
const n = Number(process.argv[2]);
const store = new SqliteStore(process.argv[3]!);
const t = performance.now();
await seedDirect(store, n);
console.log(n, "in", ((performance.now() - t) / 1000).toFixed(1), "s");
await store.close();
