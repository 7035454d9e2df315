/**
 * reqtrack/client: the tracker's API against a remote `reqtrack serve`, over HTTP.
 *
 * @example
 * import { createClient } from "reqtrack/client";
 * const client = createClient({ url: "http://127.0.0.1:7600", apiKey: process.env.REQTRACK_KEY });
 */
export { createClient, RemoteClient } from "./client.js";
export type { ClientOptions } from "./options.js";
export type { RemoteClaimOptions } from "./reads.js";
export type { RemotePrices, RemoteReplays } from "./replays.js";
export type { RemoteBudgets } from "./budgets.js";
export type { CreatedRequest } from "./wire.js";
// The errors a client call can reject with, so that a client-only program can match on them.
export {
  BudgetExceededError,
  ClosedError,
  ForbiddenError,
  InvalidTransitionError,
  MaxAttemptsError,
  NotFoundError,
  ReqtrackError,
  StoreUnavailableError,
  UnauthorizedError,
  ValidationError,
} from "../core/errors.js";
export type {
  CreateRequestInput,
  ErrorInput,
  ListRequestsInput,
  LogEventInput,
  RecordCostInput,
  StageFailureInput,
} from "../core/schemas.js";
export type { Page, Request, RequestEvent, RequestRecord } from "../core/types.js";
export type { QueueDepth } from "../tracker/queue.js";
export type { RequestRef, TrackStageOptions } from "../tracker/tracker.js";
export type {
  BulkReplayOptions,
  Comparison,
  CompareSide,
  ReplayFilterInput,
  ReplayJob,
  ReplayOptions,
} from "../tracker/replay.js";
export type { PriceInput } from "../core/prices.js";
export type { Price } from "../core/prices.js";
