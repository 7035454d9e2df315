import { useEffect, useState } from "preact/hooks";
import { ApiError, api, withQuery } from "../api";
import { Empty, ErrorBox, StatusBadge, Time, useApi } from "../components";
import { duration, usd } from "../format";
import { subscribeLive } from "../live";
import { Link, navigate } from "../router";
import {
  type CostRow,
  type EventRow,
  hasFeature,
  type Page,
  type RequestDetail,
  type RequestRow,
  type StageRow,
  type Whoami,
} from "../types";

/** How far up the conversation the chain is walked (one read per step). */
const MAX_ANCESTORS = 10;
const MAX_CHILDREN = 50;

const requestHref = (id: string) => `/requests/${encodeURIComponent(id)}`;

/**
 * A parent by id; null when the API says it is not there (another tenant's, or deleted). A busy
 * server (503, 429) or a dropped call is asked again a few times before the walk gives up, so
 * a moment of load does not cut the chain short.
 */
async function readParent(id: string): Promise<RequestRow | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api<RequestRow>(requestHref(id));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      if (attempt >= 4) return null;
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
    }
  }
}

/**
 * The request's ancestors, oldest first, walked up by `parentId` (a parent of another tenant,
 * or deleted, ends the walk where the API says "not found").
 */
function useAncestors(parentId: string | null): RequestRow[] | null {
  // Tied to the parent it was walked from: while a new walk runs, the old chain is not shown.
  const [walked, setWalked] = useState<{ from: string | null; rows: RequestRow[] } | null>(null);
  useEffect(() => {
    let stale = false;
    const walk = async () => {
      const found: RequestRow[] = [];
      let next = parentId;
      while (next && found.length < MAX_ANCESTORS && !found.some((r) => r.id === next)) {
        const parent = await readParent(next);
        if (!parent) break;
        found.unshift(parent);
        next = parent.parentId;
      }
      return found;
    };
    void walk().then((rows) => !stale && setWalked({ from: parentId, rows }));
    return () => {
      stale = true;
    };
  }, [parentId]);
  return walked && walked.from === parentId ? walked.rows : null;
}

const TERMINAL = new Set(["completed", "failed", "timeout", "cancelled"]);

/** A request's page: fields, stage waterfall, events, costs; live while it runs. */
export function RequestDetailPage({ id, me }: { id: string; me: Whoami }) {
  const path = `/requests/${encodeURIComponent(id)}`;
  const detail = useApi<RequestDetail>(path);
  const events = useApi<{ items: EventRow[] }>(`${path}/events`);
  const [acting, setActing] = useState<unknown>(null);
  const children = useApi<Page<RequestRow>>(
    withQuery("/requests", { parentId: id, limit: MAX_CHILDREN }),
  );
  const ancestors = useAncestors(detail.data?.parentId ?? null);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    return subscribeLive({ requestId: id }, () => {
      // Several changes in a burst (a stage ends, a cost, the next stage) become one read.
      timer ??= setTimeout(() => {
        timer = null;
        detail.reload();
        events.reload();
        children.reload();
      }, 150);
    });
  }, [id, detail.reload, events.reload, children.reload]);

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
        {canWrite && hasFeature(me, "replay") && (
          <button
            type="button"
            id="replay"
            title="Run it again as a new request (this one stays as it is)"
            onClick={() =>
              api<RequestRow>(`${path}/replay`, { method: "POST", body: "{}" }).then(
                (replay) =>
                  navigate(
                    hasFeature(me, "compare")
                      ? `${path}/compare/${encodeURIComponent(replay.id)}`
                      : requestHref(replay.id),
                  ),
                setActing,
              )
            }
          >
            Replay
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
                <Link href={requestHref(r.parentId)} class="mono">
                  {r.parentId}
                </Link>
              ) : (
                <span class="muted">none</span>
              )}
            </dd>
            {replayOf(r) && (
              <>
                <dt>Replay of</dt>
                <dd>
                  <Link href={requestHref(replayOf(r) as string)} class="mono">
                    {replayOf(r)}
                  </Link>
                </dd>
              </>
            )}
            {replaysOf(r).length > 0 && (
              <>
                <dt>Replays</dt>
                <dd id="replays">
                  {replaysOf(r).map((x) => (
                    <span key={x.id}>
                      <Link href={`${path}/compare/${encodeURIComponent(x.id)}`} class="mono">
                        {x.id}
                      </Link>{" "}
                      <StatusBadge status={x.status} />{" "}
                    </span>
                  ))}
                </dd>
              </>
            )}
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
      <div class="card" id="chain">
        <h2>Conversation</h2>
        <Chain request={r} ancestors={ancestors} />
        <h3>Follow-ups</h3>
        {children.error ? <ErrorBox error={children.error} /> : null}
        {children.data && children.data.items.length === 0 && (
          <p class="muted">No request has this one as its parent.</p>
        )}
        {children.data && children.data.items.length > 0 && (
          <table class="compact" id="children">
            <tbody>
              {children.data.items.map((c) => (
                <tr key={c.id} data-id={c.id}>
                  <td class="mono">
                    <Link href={requestHref(c.id)}>{c.id}</Link>
                  </td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>{c.kind ?? ""}</td>
                  <td>
                    <Time iso={c.createdAt} />
                  </td>
                </tr>
              ))}
              {children.data.total > children.data.items.length && (
                <tr>
                  <td colSpan={4} class="muted">
                    and {children.data.total - children.data.items.length} more
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        )}
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

/** The replays made of this request (GET /requests/:id lists them), oldest first. */
const replaysOf = (r: RequestDetail): { id: string; status: string }[] =>
  (r as RequestDetail & { replays?: { id: string; status: string }[] }).replays ?? [];

/** The id of the request this one replays, when the server tracks replays. */
const replayOf = (r: RequestDetail): string | null =>
  (r as RequestDetail & { replayOf?: string | null }).replayOf ?? null;

/** Ancestors (oldest first), then this request: each a link but the current one. */
function Chain({ request, ancestors }: { request: RequestRow; ancestors: RequestRow[] | null }) {
  if (!request.parentId) return <p class="muted">This request starts its conversation.</p>;
  if (ancestors === null) return <p class="muted">Loading…</p>;
  return (
    <ol class="chain" aria-label="Parent chain">
      {ancestors.length === 0 || ancestors[0]?.parentId ? <li class="muted">…</li> : null}
      {ancestors.map((a) => (
        <li key={a.id} data-id={a.id}>
          <Link href={requestHref(a.id)} class="mono">
            {a.id}
          </Link>{" "}
          <StatusBadge status={a.status} />
        </li>
      ))}
      <li class="here mono" aria-current="page">
        {request.id}
      </li>
    </ol>
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
