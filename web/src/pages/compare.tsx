import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox, StatusBadge, Time } from "../components";
import { duration, usd } from "../format";
import { Link } from "../router";
import {
  type CompareSide,
  type Comparison,
  hasFeature,
  type RequestDetail,
  type Whoami,
} from "../types";

const href = (id: string) => `/requests/${encodeURIComponent(id)}`;

/**
 * Two runs side by side (a request and its replay): status, times, cost per service, result.
 * With the server's compare endpoint (whoami lists "compare") it is one call; without it, the
 * two requests are read one by one and compared here.
 */
export function ComparePage({ id, otherId, me }: { id: string; otherId: string; me: Whoami }) {
  const [data, setData] = useState<Comparison | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stale = false;
    const load: Promise<Comparison> = hasFeature(me, "compare")
      ? api<Comparison>(`${href(id)}/compare/${encodeURIComponent(otherId)}`)
      : Promise.all([api<RequestDetail>(href(id)), api<RequestDetail>(href(otherId))]).then(
          ([left, right]) => ({ left: sideOf(left), right: sideOf(right) }),
        );
    load.then(
      (c) => !stale && setData(c),
      (e: unknown) => !stale && setError(e),
    );
    return () => {
      stale = true;
    };
  }, [id, otherId, me]);

  if (error) return <ErrorBox error={error} />;
  if (!data) return <p class="loading">Loading…</p>;
  const { left: a, right: b } = data;
  const services = [
    ...new Set([...Object.keys(a.costByService), ...Object.keys(b.costByService)]),
  ].sort();
  const spent = (side: CompareSide, service: string) => side.costByService[service] ?? 0;
  const stages = (side: CompareSide) => {
    const reused = side.stages.filter((s) => s.reused).length;
    return reused > 0 ? `${side.stages.length} (${reused} reused)` : side.stages.length;
  };
  const row = (label: string, left: ComponentChildren, right: ComponentChildren, key = label) => (
    <tr key={key} data-row={key}>
      <th scope="row">{label}</th>
      <td>{left}</td>
      <td>{right}</td>
    </tr>
  );
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Compare runs</h1>
      </div>
      <div class="card table-wrap">
        <table class="compare">
          <thead>
            <tr>
              <th />
              <th>Original</th>
              <th>Replay</th>
            </tr>
          </thead>
          <tbody>
            {row(
              "Id",
              <Link href={href(a.id)} class="mono">
                {a.id}
              </Link>,
              <Link href={href(b.id)} class="mono">
                {b.id}
              </Link>,
            )}
            {row("Status", <StatusBadge status={a.status} />, <StatusBadge status={b.status} />)}
            {row("Created", <Time iso={a.createdAt} />, <Time iso={b.createdAt} />)}
            {row("Run time", duration(a.durationMs), duration(b.durationMs))}
            {row("Stages", stages(a), stages(b))}
            {services.map((s) =>
              row(`Cost: ${s}`, usd(spent(a, s)), usd(spent(b, s)), `cost-${s}`),
            )}
            {row("Cost", usd(a.costUsd), usd(b.costUsd), "cost-total")}
            {row("Error", a.errorMessage ?? "–", b.errorMessage ?? "–")}
            {row(
              "Result",
              <pre class="json">{JSON.stringify(a.result, null, 2)}</pre>,
              <pre class="json">{JSON.stringify(b.result, null, 2)}</pre>,
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** A side built from a request read on its own (a server without the compare endpoint). */
function sideOf(r: RequestDetail): CompareSide {
  const costByService: Record<string, number> = {};
  for (const c of r.costs) costByService[c.service] = (costByService[c.service] ?? 0) + c.amountUsd;
  const replayOf = (r as RequestDetail & { replayOf?: string | null }).replayOf ?? null;
  return {
    id: r.id,
    replayOf,
    status: r.status,
    createdAt: r.createdAt,
    durationMs: r.durationMs,
    costUsd: r.costUsd,
    costByService,
    result: r.result,
    errorMessage: r.errorMessage,
    stages: r.stages.map((s) => ({
      name: s.name,
      status: s.status,
      durationMs: s.durationMs,
      reused: false,
    })),
  };
}
