import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { Empty, ErrorBox, Time, useApi } from "../components";
import type { Route } from "../router";
import { type ReplayJob, STATUSES, type Whoami } from "../types";

/** Polled fast while a job runs, so its bar moves; slowly otherwise. */
const RUNNING_REFRESH_MS = 1_000;
const IDLE_REFRESH_MS = 10_000;

/** What a job picked, in a few words. */
function filterOf(job: ReplayJob): string {
  const f = job.filter;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
  const parts = [
    f.status?.length ? `status ${f.status.join(" or ")}` : "any status",
    f.kind && `kind ${f.kind}`,
    f.tenantId ? `tenant ${f.tenantId}` : "all tenants",
    f.from !== undefined && `from ${day(f.from)} UTC`,
    f.to !== undefined && `to ${day(f.to)} UTC`,
  ];
  return parts.filter(Boolean).join(", ");
}

const percent = (job: ReplayJob) =>
  job.total === 0 ? 100 : Math.min(100, Math.round((job.done / job.total) * 100));

/**
 * Bulk replays: each job with its filter and a progress bar that moves while it runs, a
 * Resume button for a stopped one, and (for keys that may write) a form that starts a bulk
 * replay by status, kind, tenant and period. A tenant key sees and starts only its tenant's
 * jobs: the API sees to that.
 */
export function ReplaysPage({ me }: { route: Route; me: Whoami }) {
  const [fast, setFast] = useState(false);
  const list = useApi<{ items: ReplayJob[] }>(
    "/replays",
    fast ? RUNNING_REFRESH_MS : IDLE_REFRESH_MS,
  );
  const [starting, setStarting] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const canWrite = me.role !== "viewer";
  const items = [...(list.data?.items ?? [])].sort((a, b) =>
    b.createdAt.localeCompare(a.createdAt),
  );
  const anyRunning = items.some((j) => j.status === "running");
  useEffect(() => setFast(anyRunning), [anyRunning]);
  const resume = (job: ReplayJob) =>
    api(`/replays/${encodeURIComponent(job.id)}/resume`, { method: "POST" }).then(
      list.reload,
      setProblem,
    );
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Bulk replays</h1>
        {canWrite && !starting && (
          <button type="button" id="new-replay" onClick={() => setStarting(true)}>
            New bulk replay
          </button>
        )}
      </div>
      {list.error ? <ErrorBox error={list.error} /> : null}
      {problem ? <ErrorBox error={problem} /> : null}
      {starting && (
        <div class="card">
          <h2>New bulk replay</h2>
          <BulkReplayForm
            me={me}
            onCancel={() => setStarting(false)}
            onStarted={() => {
              setStarting(false);
              list.reload();
            }}
          />
        </div>
      )}
      {list.data && items.length === 0 && (
        <Empty>
          No bulk replays yet:{" "}
          {canWrite ? (
            <>
              press <strong>New bulk replay</strong>, or run
            </>
          ) : (
            "ask a writer to start one, or run"
          )}{" "}
          <code>npx reqtrack replay --status failed,timeout</code>.
        </Empty>
      )}
      {items.length > 0 && (
        <div class="card table-wrap">
          <table class="replays">
            <thead>
              <tr>
                <th>Job</th>
                <th>Picked</th>
                <th>Status</th>
                <th>Progress</th>
                <th>Rate</th>
                <th>Started</th>
                <th>Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((job) => (
                <tr key={job.id} data-job={job.id}>
                  <td>
                    <code title={job.id}>{job.id.slice(0, 13)}…</code>
                  </td>
                  <td>
                    {filterOf(job)}
                    {job.fromStage && <div class="muted small">from stage {job.fromStage}</div>}
                  </td>
                  <td>
                    <span
                      class={`badge ${
                        job.status === "completed"
                          ? "s-completed"
                          : job.status === "running"
                            ? "s-running"
                            : "s-failed"
                      }`}
                      data-status={job.status}
                    >
                      {job.status}
                    </span>
                    {job.error && <div class="muted small">{job.error}</div>}
                  </td>
                  <td class="progress-cell">
                    <div
                      class="meter"
                      role="progressbar"
                      aria-valuemin={0}
                      aria-valuemax={job.total}
                      aria-valuenow={job.done}
                      aria-label={`${job.done} of ${job.total} replayed`}
                    >
                      <div class="spent" style={{ width: `${percent(job)}%` }} />
                    </div>
                    <span class="small" data-progress>
                      {job.done} / {job.total} ({percent(job)}%)
                    </span>
                  </td>
                  <td>{job.ratePerSecond}/s</td>
                  <td>
                    <Time iso={job.createdAt} />
                  </td>
                  <td>
                    <Time iso={job.updatedAt} />
                  </td>
                  <td>
                    {canWrite && job.status === "stopped" && (
                      <button type="button" data-resume={job.id} onClick={() => resume(job)}>
                        Resume
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Starts a bulk replay; the API validates it and names a bad field. */
function BulkReplayForm(props: { me: Whoami; onStarted: () => void; onCancel: () => void }) {
  const [problem, setProblem] = useState<unknown>(null);
  return (
    <form
      class="budget-form"
      id="bulk-replay-form"
      onSubmit={(e) => {
        e.preventDefault();
        const form = new FormData(e.currentTarget);
        const text = (name: string) => {
          const v = String(form.get(name) ?? "").trim();
          return v === "" ? undefined : v;
        };
        const time = (name: string) => {
          const v = text(name);
          return v === undefined ? undefined : new Date(v).getTime();
        };
        const number = (name: string) => {
          const v = text(name);
          return v === undefined ? undefined : Number(v);
        };
        const status = form.getAll("status").map(String);
        const body = {
          filter: {
            status: status.length > 0 ? status : undefined,
            kind: text("kind"),
            tenantId: props.me.tenantId === null ? text("tenantId") : undefined,
            from: time("from"),
            to: time("to"),
          },
          fromStage: text("fromStage"),
          ratePerSecond: number("ratePerSecond"),
          limit: number("limit"),
        };
        api("/replays", { method: "POST", body: JSON.stringify(body) }).then(
          props.onStarted,
          setProblem,
        );
      }}
    >
      <fieldset class="field">
        <legend>Status</legend>
        {STATUSES.map((s) => (
          <label key={s} class="check">
            <input type="checkbox" name="status" value={s} defaultChecked={s === "failed"} /> {s}
          </label>
        ))}
      </fieldset>
      <label class="field">
        <span>Kind</span>
        <input name="kind" placeholder="any" />
      </label>
      {props.me.tenantId === null && (
        <label class="field">
          <span>Tenant</span>
          <input name="tenantId" placeholder="all tenants" />
        </label>
      )}
      <label class="field">
        <span>Created from</span>
        <input name="from" type="datetime-local" />
      </label>
      <label class="field">
        <span>Created before</span>
        <input name="to" type="datetime-local" />
      </label>
      <label class="field">
        <span>From stage</span>
        <input name="fromStage" placeholder="from the start" />
      </label>
      <label class="field">
        <span>Replays per second</span>
        <input name="ratePerSecond" type="number" step="any" min="0" placeholder="10" />
      </label>
      <label class="field">
        <span>At most</span>
        <input name="limit" type="number" min="1" placeholder="100000" />
      </label>
      <button type="submit">Start</button>
      <button type="button" class="link" onClick={props.onCancel}>
        Cancel
      </button>
      {problem ? <ErrorBox error={problem} /> : null}
    </form>
  );
}
