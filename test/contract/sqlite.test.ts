import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { describeStoreContract } from "./store-contract.js";

describeStoreContract("sqlite (:memory:)", async () => new SqliteStore(":memory:"));
