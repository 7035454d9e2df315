import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { Empty, ErrorBox, StatusBadge, Time, useApi } from "../components";
import { duration, usd } from "../format";
import { subscribeLive } from "../live";
import { Link } from "../router";
import type { CostRow, EventRow, RequestDetail, StageRow, Whoami } from "../types";

const TERMINAL = new Set(["completed", "failed", "timeout", "cancelled"]);

/** A request's page: fields, stage waterfall, events, costs; live while it runs. */
export function RequestDetailPage({ id, me }: { id: string; me: Whoami }) {
  const path = `/requests/${encodeURIComponent(id)}`;
  const detail = useApi<RequestDetail>(path);
  const events = useApi<{ items: EventRow[] }>(`${path}/events`);
  const [acting, setActing] = useState<unknown>(null);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    return subscribeLive({ requestId: id }, () => {
      // Several changes in a burst (a stage ends, a cost, the next stage) become one read.
      timer ??= setTimeout(() => {
        timer = null;
        detail.reload();
        events.reload();
      }, 150);
    });
  }, [id, detail.reload, events.reload]);

  if (detail.error) return <ErrorBox error={detail.error} />;
  const r = detail.data;
  if (!r) return <p class="loading">Loading…</p>;
  const canWrite = me.role !== "viewer";
  const act = (body: Record<string, unknown>) =>
    api(`${path}/transitions`, { method: "POST", body: JSON.stringify(body) }).then(
      () => detail.reload(),
      setActing,
    );

  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title" class="mono">
          {r.id}
        </h1>
        <StatusBadge status={r.status} />
        {canWrite && !TERMINAL.has(r.status) && (
          <button type="button" onClick={() => act({ to: "cancelled", reason: "dashboard" })}>
            Cancel
          </button>
        )}
        {canWrite && (r.status === "failed" || r.status === "timeout") && (
          <button type="button" onClick={() => act({ to: "pending" })}>
            Retry
          </button>
        )}
      </div>
      {acting ? <ErrorBox error={acting} /> : null}
      <div class="grid2">
        <div class="card">
          <h2>Request</h2>
          <dl class="fields">
            <Field name="Tenant" value={r.tenantId} />
            <Field name="Kind" value={r.kind} />
            <Field name="User" value={r.userId} />
            <Field name="Channel" value={r.channelId} />
            <Field name="Session" value={r.sessionId} />
            <Field name="Source" value={r.source} />
            <Field name="Lane" value={`${r.lane} (priority ${r.priority})`} />
            <Field name="Attempts" value={`${r.attempts} of ${r.maxAttempts}`} />
            <Field name="Worker" value={r.workerId} />
            <Field name="Tags" value={r.tags.length ? r.tags.join(", ") : null} />
            <Field name="Intent" value={r.intent} />
            <Field name="Correlation" value={r.correlationId} />
            <dt>Parent</dt>
            <dd>
              {r.parentId ? (
                <Link href={`/requests/${encodeURIComponent(r.parentId)}`} class="mono">
                  {r.parentId}
                </Link>
              ) : (
                <span class="muted">none</span>
              )}
            </dd>
            <dt>Created</dt>
            <dd>
              <Time iso={r.createdAt} />
            </dd>
            <dt>Started</dt>
            <dd>
              <Time iso={r.startedAt} />
            </dd>
            <dt>Finished</dt>
            <dd>
              <Time iso={r.completedAt} />
            </dd>
            <dt>Lease until</dt>
            <dd>
              <Time iso={r.leaseExpiresAt} />
            </dd>
            <dt>Deadline</dt>
            <dd>
              <Time iso={r.deadline} />
            </dd>
            <Field name="Queue wait" value={duration(r.queueMs)} />
            <Field name="Run time" value={duration(r.durationMs)} />
            <Field name="Timeout" value={r.timeoutMs === null ? null : duration(r.timeoutMs)} />
          </dl>
        </div>
        <div class="card">
          <h2>Costs</h2>
          <Costs costs={r.costs} total={r.costUsd} />
          <h2>Counters</h2>
          {Object.keys(r.counters).length === 0 ? (
            <p class="muted">No counters: tracker.increment(id, name) adds one.</p>
          ) : (
            <dl class="fields" id="counters">
              {Object.entries(r.counters).map(([name, n]) => (
                <Field key={name} name={name} value={String(n)} />
              ))}
            </dl>
          )}
        </div>
      </div>
      <div class="card">
        <h2>Stages</h2>
        <Waterfall request={r} />
      </div>
      <div class="grid2">
        <Json title="Prompt" value={r.initialMessage} />
        <Json title="Input" value={r.input} />
        <Json title="Result" value={r.result} />
        <Json
          title="Error"
          value={
            r.errorMessage
              ? { message: r.errorMessage, stage: r.errorStage, details: r.errorDetails }
              : null
          }
        />
      </div>
      <div class="card">
        <h2>Events</h2>
        {events.error ? <ErrorBox error={events.error} /> : null}
        {events.data && <Events items={events.data.items} />}
      </div>
    </section>
  );
}

function Field({ name, value }: { name: string; value: string | null }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value ?? <span class="muted">–</span>}</dd>
    </>
  );
}

function Json({ title, value }: { title: string; value: unknown }) {
  return (
    <div class="card">
      <h2>{title}</h2>
      {value === null || value === undefined ? (
        <p class="muted">none</p>
      ) : (
        <pre class="json">{typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>
      )}
    </div>
  );
}

/** Costs per service, with each record's usage (tokens, seconds…). */
function Costs({ costs, total }: { costs: CostRow[]; total: number }) {
  if (costs.length === 0) return <p class="muted">No costs recorded.</p>;
  const byService = new Map<string, number>();
  for (const c of costs) byService.set(c.service, (byService.get(c.service) ?? 0) + c.amountUsd);
  return (
    <>
      <table class="compact" id="cost-split">
        <thead>
          <tr>
            <th>Service</th>
            <th class="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {[...byService].map(([service, usdValue]) => (
            <tr key={service}>
              <td>{service}</td>
              <td class="num">{usd(usdValue)}</td>
            </tr>
          ))}
          <tr class="total">
            <td>Total</td>
            <td class="num" id="cost-total">
              {usd(total)}
            </td>
          </tr>
        </tbody>
      </table>
      <details>
        <summary>{costs.length} cost records</summary>
        <table class="compact">
          <tbody>
            {costs.map((c, i) => (
              <tr key={i}>
                <td>
                  <Time iso={c.ts} />
                </td>
                <td>{c.service}</td>
                <td>{c.stage ?? ""}</td>
                <td class="num">{usd(c.amountUsd)}</td>
                <td class="mono small">{c.usage ? JSON.stringify(c.usage) : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}

/**
 * The stage waterfall: one bar per attempt of each stage on the request's time axis, the
 * queue wait before the first as a hatched gap, so a retry is seen resuming at the failed stage.
 */
function Waterfall({ request: r }: { request: RequestDetail }) {
  if (r.stages.length === 0)
    return <Empty>No stages yet: they show as the worker reports them.</Empty>;
  const t0 = Date.parse(r.createdAt);
  const ends = r.stages.map((s) =>
    s.completedAt ? Date.parse(s.completedAt) : s.startedAt ? Date.now() : t0,
  );
  const end = Math.max(t0 + 1, r.completedAt ? Date.parse(r.completedAt) : 0, ...ends);
  const span = end - t0;
  const at = (ms: number) => `${(((ms - t0) / span) * 100).toFixed(2)}%`;
  const firstStart = Math.min(
    ...r.stages.map((s) => (s.startedAt ? Date.parse(s.startedAt) : end)),
  );
  const rows: (StageRow & { key: string })[] = r.stages.map((s) => ({
    ...s,
    key: `${s.name}#${s.attempt}`,
  }));
  return (
    <div class="waterfall" role="table" aria-label="Stage waterfall">
      <div class="wf-row" role="row">
        <div class="wf-label" role="cell">
          queue wait
        </div>
        <div class="wf-track" role="cell">
          <div
            class="wf-bar wf-queue"
            style={{ left: "0%", width: at(firstStart) }}
            title={`waited ${duration(firstStart - t0)}`}
          />
        </div>
        <div class="wf-dur num" role="cell">
          {duration(firstStart - t0)}
        </div>
      </div>
      {rows.map((s) => {
        const start = s.startedAt ? Date.parse(s.startedAt) : t0;
        const stop = s.completedAt ? Date.parse(s.completedAt) : end;
        return (
          <div class="wf-row" role="row" key={s.key} data-stage={s.name} data-attempt={s.attempt}>
            <div class="wf-label" role="cell">
              {s.name}
              {s.attempt > 1 || rows.some((o) => o.name === s.name && o.attempt > 1) ? (
                <span class="muted"> · attempt {s.attempt}</span>
              ) : null}
            </div>
            <div class="wf-track" role="cell">
              <div
                class={`wf-bar st-${s.status}`}
                style={{
                  left: at(start),
                  width: `max(2px, ${(((stop - start) / span) * 100).toFixed(2)}%)`,
                }}
                title={`${s.name} attempt ${s.attempt}: ${s.status}${s.errorMessage ? ` (${s.errorMessage})` : ""}`}
              />
            </div>
            <div class="wf-dur num" role="cell">
              {s.status === "running" ? "running" : duration(s.durationMs)}
            </div>
          </div>
        );
      })}
    </div>
  );
}

function Events({ items }: { items: EventRow[] }) {
  if (items.length === 0) return <p class="muted">No events.</p>;
  return (
    <table class="compact events">
      <thead>
        <tr>
          <th>Time</th>
          <th>Severity</th>
          <th>Type</th>
          <th>Stage</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {items.map((e) => (
          <tr key={e.seq} class={`sev-${e.severity}`}>
            <td>
              <Time iso={e.ts} />
            </td>
            <td>
              <span class={`badge sev-${e.severity}`}>{e.severity}</span>
            </td>
            <td>{e.type}</td>
            <td>{e.stage ?? ""}</td>
            <td>{e.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
