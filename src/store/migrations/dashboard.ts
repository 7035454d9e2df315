import { POSTGRES_BUDGET_SPEND_MIGRATION, SQLITE_BUDGET_SPEND_MIGRATION } from "../budget-spend.js";
import {
  POSTGRES_SESSION_TOTALS_MIGRATION,
  SQLITE_SESSION_TOTALS_MIGRATION,
} from "../session-totals.js";
import { POSTGRES_SPEND_MOVE_MIGRATION, SQLITE_SPEND_MOVE_MIGRATION } from "../spend-move.js";
import type { Migration } from "./migration.js";

/** The dashboard's structures at a million requests (issue 14): versions 21 to 24. */
export const SQLITE_DASHBOARD_MIGRATIONS: readonly Migration[] = [
  SQLITE_SESSION_TOTALS_MIGRATION,
  SQLITE_BUDGET_SPEND_MIGRATION,
  SQLITE_SPEND_MOVE_MIGRATION,
];

export const POSTGRES_DASHBOARD_MIGRATIONS: readonly Migration[] = [
  POSTGRES_SESSION_TOTALS_MIGRATION,
  POSTGRES_BUDGET_SPEND_MIGRATION,
  POSTGRES_SPEND_MOVE_MIGRATION,
];
