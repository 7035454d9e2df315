/**
 * reqtrack: request tracking for AI-generation pipelines.
 *
 * @example
 * import { createTracker } from "reqtrack";
 * const tracker = await createTracker({ storage: "data/requests.db" });
 */
export type { CostReport } from "./analytics/costs.js";
export type { GroupBucket, GroupStats } from "./analytics/groups.js";
export type { Overview } from "./analytics/overview.js";
export { normalizePrompt } from "./analytics/prompts.js";
export type {
  CostReportInput,
  GroupBy,
  GroupInput,
  OverviewInput,
  StagesInput,
  TimeseriesInput,
} from "./analytics/schemas.js";
export type { StageStats } from "./analytics/stages.js";
export type { Costs, Stats } from "./analytics/stats.js";
export type {
  Budget,
  BudgetInput,
  BudgetMode,
  BudgetPatch,
  BudgetPeriod,
  BudgetScope,
} from "./core/budgets.js";
export type { BudgetAlert, Budgets, BudgetStatus } from "./tracker/budgets.js";
export type { TimeseriesPoint } from "./analytics/timeseries.js";
export {
  createDefaultLogger,
  type Logger,
  requestIdMixin,
  withRequestIds,
} from "./context/logger.js";
export {
  type PropagationHeaders,
  propagationHeaders,
  trackedFetch,
} from "./context/propagation.js";
export {
  currentRequest,
  type RequestHandle,
  type WithRequestOptions,
} from "./context/request-handle.js";
export { bindRequest, currentRequestId } from "./context/scope.js";
export {
  BudgetExceededError,
  type BudgetExceededDetails,
  ClosedError,
  ERROR_CODES,
  type ErrorCode,
  IdConflictError,
  InvalidTransitionError,
  MaxAttemptsError,
  MissingDependencyError,
  MigrationError,
  NoAnalyticsError,
  NotFoundError,
  ReqtrackError,
  RequestEndedError,
  StoreUnavailableError,
  ValidationError,
} from "./core/errors.js";
export { newRequestId, uuidv7 } from "./core/ids.js";
export { laneFor } from "./core/lanes.js";
export { canTransition, LEASE_EXPIRED_MESSAGE, timeoutMessage } from "./core/lifecycle.js";
export type { ChangeEvent, SweepChange } from "./core/ops.js";
export type {
  AnnotateInput,
  ContextInput,
  CreateRequestInput,
  ErrorInput,
  ListRequestsInput,
  LogEventInput,
  RecordCostInput,
  StageFailureInput,
} from "./core/schemas.js";
export {
  type ApiKey,
  type ApiKeyRole,
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
export type { BreakerOptions, BreakerStats } from "./tracker/breakers.js";
export { enableOpenTelemetry, type OpenTelemetryOptions } from "./integrations/otel.js";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite/sqlite-store.js";
export {
  isPostgresUrl,
  PostgresStore,
  type PostgresStoreOptions,
} from "./store/postgres/postgres-store.js";
export { openStore, type OpenStoreOptions } from "./store/open-store.js";
export { SKETCH_RELATIVE_ACCURACY, Sketch } from "./core/sketch.js";
export type { AnalyticsStore } from "./store/analytics-store.js";
export type { PurgeCounts, RemoteGap, Store } from "./store/store.js";
export { createTracker } from "./tracker/create-tracker.js";
export type { ApiKeys, CreatedApiKey } from "./tracker/api-keys.js";
export { type IngestOp, type IngestResult, MAX_INGEST_OPS } from "./tracker/ingest.js";
export type { PostgresOptions, TrackerOptions } from "./tracker/options.js";
export type { ClaimOptions, QueueDepth } from "./tracker/queue.js";
export type { SweepReport } from "./tracker/watchdog.js";
export type { WorkContext, Worker, WorkHandler, WorkOptions } from "./tracker/worker.js";
export type {
  AlertEvent,
  LiveEvent,
  RequestRef,
  ResyncEvent,
  Tracker,
  TrackStageOptions,
} from "./tracker/tracker.js";
