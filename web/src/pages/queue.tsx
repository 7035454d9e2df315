import { withQuery } from "../api";
import { Empty, ErrorBox, Stat, Time, useApi } from "../components";
import { TenantFilter, tenantOf, Toolbar } from "../filters";
import { duration, int } from "../format";
import { Link, type Route } from "../router";
import type { LeaseBrief, Overview, QueueStatus, StaleBrief, Whoami } from "../types";

/** The queue: depth per lane, running per worker, oldest pending, leases expiring or expired. */
export function QueuePage({ route, me }: { route: Route; me: Whoami }) {
  const tenantId = tenantOf(route, me);
  const status = useApi<QueueStatus>(withQuery("/queue/status", { tenantId }), 5000);
  const overview = useApi<Overview>(withQuery("/stats/overview", { window: "1h", tenantId }), 5000);
  const q = status.data;
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Queue</h1>
        <Toolbar>
          <TenantFilter route={route} me={me} />
        </Toolbar>
      </div>
      {status.error ? <ErrorBox error={status.error} /> : null}
      <div class="stats">
        {overview.data &&
          Object.entries(overview.data.queueDepthByLane).map(([lane, n]) => (
            <Stat key={lane} label={`${lane} lane`} value={int(n)} />
          ))}
        {q && (
          <>
            <Stat label="Pending" value={int(q.pending)} />
            <Stat label="Running" value={int(q.running)} />
            <Stat
              label="Oldest pending"
              value={q.oldestPending ? duration(q.oldestPending.ageMs) : "none"}
            />
          </>
        )}
      </div>
      {q?.oldestPending && (
        <p>
          Oldest pending:{" "}
          <Link class="mono" href={`/requests/${encodeURIComponent(q.oldestPending.id)}`}>
            {q.oldestPending.id}
          </Link>{" "}
          since <Time iso={q.oldestPending.createdAt} />
        </p>
      )}
      {q && (
        <div class="grid2">
          <div class="card">
            <h2>Running per worker</h2>
            {q.runningByWorker.length === 0 ? (
              <Empty>No worker runs anything right now.</Empty>
            ) : (
              <table class="compact">
                <tbody>
                  {q.runningByWorker.map((w) => (
                    <tr key={w.workerId}>
                      <td class="mono">{w.workerId}</td>
                      <td class="num">{int(w.running)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
          <Leases title="Leases expiring within 30 s" items={q.leasesExpiringSoon} />
          <Leases title="Expired leases (the watchdog will requeue them)" items={q.expiredLeases} />
          {q.staleRunning && <Stale items={q.staleRunning} />}
        </div>
      )}
    </section>
  );
}

function Leases({ title, items }: { title: string; items: LeaseBrief[] }) {
  return (
    <div class="card">
      <h2>{title}</h2>
      {items.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <table class="compact">
          <tbody>
            {items.map((l) => (
              <tr key={l.id}>
                <td class="mono">
                  <Link href={`/requests/${encodeURIComponent(l.id)}`}>{l.id}</Link>
                </td>
                <td>{l.workerId}</td>
                <td>
                  <Time iso={l.leaseExpiresAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

const STALE_REASON: Record<StaleBrief["reason"], string> = {
  no_heartbeat: "no lease, unchanged for over a minute",
  past_timeout: "running past its timeout",
};

/** Running requests nothing vouches for: no heartbeat, or past their own timeout. */
function Stale({ items }: { items: StaleBrief[] }) {
  return (
    <div class="card" id="stale">
      <h2>Stale running requests</h2>
      {items.length === 0 ? (
        <p class="muted">none: every running request has a live lease or recent progress</p>
      ) : (
        <table class="compact">
          <thead>
            <tr>
              <th>Request</th>
              <th>Worker</th>
              <th>Started</th>
              <th>Last change</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-id={r.id} data-reason={r.reason}>
                <td class="mono">
                  <Link href={`/requests/${encodeURIComponent(r.id)}`}>{r.id}</Link>
                </td>
                <td>{r.workerId ?? <span class="muted">–</span>}</td>
                <td>
                  <Time iso={r.startedAt} />
                </td>
                <td>
                  <Time iso={r.updatedAt} />
                </td>
                <td>{STALE_REASON[r.reason]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
