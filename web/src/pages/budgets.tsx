import { useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { Chart, Empty, ErrorBox, Stat, Time, useApi } from "../components";
import { pct, usd } from "../format";
import type { Route } from "../router";
import type { Budget, BudgetStatus, Burndown, Whoami } from "../types";

const REFRESH_MS = 10_000;
const PERIODS = ["day", "week", "month"] as const;

/** Who a budget counts, in a few words. */
function scopeOf(b: Budget): string {
  const s = b.scope;
  const parts = [
    s.tenantId ? `tenant ${s.tenantId}` : "all tenants",
    s.userId && `user ${s.userId}`,
    s.sessionId && `session ${s.sessionId}`,
    s.kind && `kind ${s.kind}`,
    s.service && `service ${s.service}`,
  ];
  return parts.filter(Boolean).join(", ");
}

/**
 * Cost budgets: each with spent, reserved and remaining for its period, a burn-down chart
 * with the projection to the period's end, and (for keys that may write) create, edit and
 * delete. A tenant's key sees and manages only its tenant's budgets: the API sees to that.
 */
export function BudgetsPage({ me }: { route: Route; me: Whoami }) {
  const list = useApi<{ items: Budget[] }>("/budgets", REFRESH_MS);
  const [creating, setCreating] = useState(false);
  const canWrite = me.role !== "viewer";
  const items = list.data?.items ?? [];
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Budgets</h1>
        {canWrite && !creating && (
          <button type="button" id="new-budget" onClick={() => setCreating(true)}>
            New budget
          </button>
        )}
      </div>
      {list.error ? <ErrorBox error={list.error} /> : null}
      {creating && (
        <div class="card">
          <h2>New budget</h2>
          <BudgetForm
            me={me}
            onCancel={() => setCreating(false)}
            onSaved={() => {
              setCreating(false);
              list.reload();
            }}
          />
        </div>
      )}
      {list.data && items.length === 0 && (
        <Empty>
          No budgets yet:{" "}
          {canWrite ? (
            <>
              press <strong>New budget</strong>, or
            </>
          ) : (
            "ask a writer to add one, or use"
          )}{" "}
          <code>tracker.budgets.create(&#123; period: "month", amountUsd: 100 &#125;)</code>.
        </Empty>
      )}
      {items.map((b) => (
        <BudgetCard key={b.id} budget={b} canWrite={canWrite} me={me} onChanged={list.reload} />
      ))}
    </section>
  );
}

function BudgetCard(props: {
  budget: Budget;
  canWrite: boolean;
  me: Whoami;
  onChanged: () => void;
}) {
  const { budget: b, canWrite } = props;
  const path = `/budgets/${encodeURIComponent(b.id)}`;
  const status = useApi<BudgetStatus>(`${path}/status`, REFRESH_MS);
  const burndown = useApi<Burndown>(`${path}/burndown`, REFRESH_MS);
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const s = status.data;
  const chart = useMemo(() => chartOf(burndown.data), [burndown.data]);
  const share = (usdValue: number) =>
    s && s.limitUsd > 0 ? `${Math.min(100, (usdValue / s.limitUsd) * 100).toFixed(2)}%` : "0%";
  return (
    <div class="card budget" data-budget={b.id}>
      <div class="page-head">
        <h2>{b.name}</h2>
        <span class={`badge ${s?.exceeded ? "s-failed" : "s-completed"}`}>
          {s?.exceeded ? "exceeded" : b.mode}
        </span>
        <span class="muted">
          {scopeOf(b)} · {b.rolling ? `rolling ${b.period}` : `this ${b.period} (UTC)`}
        </span>
        {canWrite && !editing && (
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
        )}
        {canWrite && !confirming && (
          <button type="button" class="danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
        {canWrite && confirming && (
          <>
            <button
              type="button"
              class="danger"
              id={`confirm-delete-${b.id}`}
              onClick={() =>
                api(path, { method: "DELETE" }).then(props.onChanged, (e: unknown) => {
                  setConfirming(false);
                  setProblem(e);
                })
              }
            >
              Delete {b.name} for good
            </button>
            <button type="button" class="link" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </>
        )}
      </div>
      {problem ? <ErrorBox error={problem} /> : null}
      {status.error ? <ErrorBox error={status.error} /> : null}
      {editing && (
        <BudgetForm
          me={props.me}
          budget={b}
          onCancel={() => setEditing(false)}
          onSaved={() => {
            setEditing(false);
            props.onChanged();
            status.reload();
            burndown.reload();
          }}
        />
      )}
      {s && (
        <>
          <div class="stats">
            <Stat label="Limit" value={usd(s.limitUsd)} />
            <Stat label="Spent" value={usd(s.spentUsd)} tone={s.exceeded ? "s-failed" : ""} />
            <Stat
              label="Reserved"
              value={usd(s.reservedUsd)}
              hint="Estimates of running requests"
            />
            <Stat label="Remaining" value={usd(s.remainingUsd)} />
            <Stat label="Used" value={pct(s.percent)} />
            <Stat
              label="Projected"
              value={b.rolling ? "–" : usd(s.projectedUsd)}
              hint="Spend at the period's end at the pace so far"
            />
          </div>
          <div
            class={`meter ${s.exceeded ? "over" : ""}`}
            role="img"
            aria-label={`${pct(s.percent)} of the limit spent`}
          >
            <div class="spent" style={{ width: share(s.spentUsd) }} />
            <div class="reserved" style={{ width: share(s.reservedUsd) }} />
          </div>
          <p class="muted small">
            Period <Time iso={s.periodStart} /> to <Time iso={s.periodEnd} />
            {s.alerted.length > 0 && <> · alerted at {s.alerted.map((t) => `${t}%`).join(", ")}</>}
          </p>
        </>
      )}
      {chart && (
        <Chart title="Remaining (burn-down) and projection" x={chart.x} series={chart.series} />
      )}
    </div>
  );
}

/** Remaining over the period so far, then a straight line at the current pace to its end. */
function chartOf(d: Burndown | null) {
  if (!d || d.points.length === 0) return null;
  const x = [Date.parse(d.periodStart) / 1000, ...d.points.map((p) => Date.parse(p.at) / 1000)];
  const remaining: (number | null)[] = [
    d.limitUsd,
    ...d.points.map((p) => d.limitUsd - p.spentUsd),
  ];
  const projection: (number | null)[] = x.map(() => null);
  if (d.projectedUsd !== null && Date.parse(d.at) < Date.parse(d.periodEnd)) {
    projection[projection.length - 1] = remaining[remaining.length - 1] ?? null;
    x.push(Date.parse(d.periodEnd) / 1000);
    remaining.push(null);
    projection.push(d.limitUsd - d.projectedUsd);
  }
  return {
    x,
    series: [
      { label: "remaining", values: remaining, color: "#3b82f6", format: usd },
      { label: "projected", values: projection, color: "#f59e0b", format: usd },
    ],
  };
}

/** Create (no `budget`) or edit a budget; the API validates and names a bad field. */
function BudgetForm(props: {
  me: Whoami;
  budget?: Budget;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const b = props.budget;
  const [problem, setProblem] = useState<unknown>(null);
  return (
    <form
      class="budget-form"
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        const text = (name: string) => {
          const v = String(form.get(name) ?? "").trim();
          return v === "" ? undefined : v;
        };
        const settings = {
          name: text("name"),
          period: text("period"),
          rolling: form.get("rolling") === "on",
          amountUsd: Number(form.get("amountUsd")),
          mode: text("mode"),
          thresholds: text("thresholds")
            ?.split(",")
            .map((t) => Number(t.trim())),
        };
        const body = b
          ? settings
          : {
              ...settings,
              tenantId: props.me.tenantId === null ? text("tenantId") : undefined,
              userId: text("userId"),
              kind: text("kind"),
              service: text("service"),
            };
        api(b ? `/budgets/${encodeURIComponent(b.id)}` : "/budgets", {
          method: b ? "PATCH" : "POST",
          body: JSON.stringify(body),
        }).then(props.onSaved, setProblem);
      }}
    >
      <label class="field">
        <span>Name</span>
        <input name="name" defaultValue={b?.name ?? ""} placeholder="monthly spend" />
      </label>
      {!b && props.me.tenantId === null && (
        <label class="field">
          <span>Tenant</span>
          <input name="tenantId" placeholder="all tenants" />
        </label>
      )}
      {!b && (
        <>
          <label class="field">
            <span>User</span>
            <input name="userId" placeholder="any" />
          </label>
          <label class="field">
            <span>Kind</span>
            <input name="kind" placeholder="any" />
          </label>
          <label class="field">
            <span>Service</span>
            <input name="service" placeholder="any" />
          </label>
        </>
      )}
      <label class="field">
        <span>Period</span>
        <select name="period" defaultValue={b?.period ?? "month"}>
          {PERIODS.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>Rolling</span>
        <input type="checkbox" name="rolling" defaultChecked={b?.rolling ?? false} />
      </label>
      <label class="field">
        <span>Limit (USD)</span>
        <input
          name="amountUsd"
          type="number"
          step="any"
          min="0"
          required
          defaultValue={b ? String(b.amountMicros / 1_000_000) : ""}
        />
      </label>
      <label class="field">
        <span>Mode</span>
        <select name="mode" defaultValue={b?.mode ?? "alert"}>
          <option value="alert">alert</option>
          <option value="enforce">enforce (refuse new requests when spent)</option>
        </select>
      </label>
      <label class="field">
        <span>Thresholds (%)</span>
        <input name="thresholds" defaultValue={(b?.thresholds ?? [50, 80, 100]).join(", ")} />
      </label>
      <button type="submit">{b ? "Save" : "Create"}</button>
      <button type="button" class="link" onClick={props.onCancel}>
        Cancel
      </button>
      {problem ? <ErrorBox error={problem} /> : null}
    </form>
  );
}
