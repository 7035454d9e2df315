/**
 * reqtrack: request tracking for AI-generation pipelines.
 *
 * @example
 * import { createTracker } from "reqtrack";
 * const tracker = await createTracker({ storage: "data/requests.db" });
 */
export { createDefaultLogger, type Logger } from "./context/logger.js";
export { currentRequestId } from "./context/scope.js";
export {
  ClosedError,
  ERROR_CODES,
  type ErrorCode,
  InvalidTransitionError,
  MaxAttemptsError,
  MigrationError,
  NotFoundError,
  ReqtrackError,
  StoreUnavailableError,
  ValidationError,
} from "./core/errors.js";
export { newRequestId, uuidv7 } from "./core/ids.js";
export { laneFor } from "./core/lanes.js";
export { canTransition, LEASE_EXPIRED_MESSAGE, timeoutMessage } from "./core/lifecycle.js";
export type { SweepChange } from "./core/ops.js";
export type {
  CreateRequestInput,
  ErrorInput,
  ListRequestsInput,
  LogEventInput,
  RecordCostInput,
  StageFailureInput,
} from "./core/schemas.js";
export {
  type Cost,
  type JsonValue,
  LANES,
  type Lane,
  type Page,
  REQUEST_STATUSES,
  type Request,
  type RequestEvent,
  type RequestRecord,
  type RequestStatus,
  SEVERITIES,
  type Severity,
  type Stage,
  type StageStatus,
} from "./core/types.js";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite/sqlite-store.js";
export type { PurgeCounts, Store } from "./store/store.js";
export { createTracker } from "./tracker/create-tracker.js";
export type { TrackerOptions } from "./tracker/options.js";
export type { ClaimOptions, QueueDepth } from "./tracker/queue.js";
export type { SweepReport } from "./tracker/watchdog.js";
export type { WorkContext, Worker, WorkHandler, WorkOptions } from "./tracker/worker.js";
export type { RequestRef, Tracker, TrackStageOptions } from "./tracker/tracker.js";
