import { Component } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, withQuery } from "../api";
import { Empty, ErrorBox, StatusBadge, Time } from "../components";
import { TenantFilter, tenantOf, TextFilter, Toolbar } from "../filters";
import { duration, int, usd } from "../format";
import { subscribeLive } from "../live";
import { hrefWith, Link, navigate, type Route } from "../router";
import { type Page, type RequestRow, STATUSES, type Whoami } from "../types";

const PAGE_SIZE = 50;
/**
 * Changed rows are re-read at most this often (each at most once per period), so 200 changes/s
 * cost at most one read per visible row per second; their status shows at once from the event.
 */
const REFRESH_ROWS_MS = 1000;

/** One table row; re-renders only when its request changed, not on every event. */
class Row extends Component<{ row: RequestRow }> {
  override shouldComponentUpdate(next: { row: RequestRow }) {
    return next.row !== this.props.row;
  }
  override render() {
    const r = this.props.row;
    return (
      <tr data-id={r.id}>
        <td class="mono">
          <Link href={`/requests/${encodeURIComponent(r.id)}`}>{r.id}</Link>
        </td>
        <td>
          <StatusBadge status={r.status} />
        </td>
        <td>{r.tenantId ?? <span class="muted">–</span>}</td>
        <td>{r.kind ?? <span class="muted">–</span>}</td>
        <td>{r.userId ?? <span class="muted">–</span>}</td>
        <td>{r.lane}</td>
        <td class="num">{duration(r.queueMs)}</td>
        <td class="num">{duration(r.durationMs)}</td>
        <td class="num">
          {r.attempts}/{r.maxAttempts}
        </td>
        <td class="num" title="Per-service split on the request's page">
          {usd(r.costUsd)}
        </td>
        <td>
          <Time iso={r.createdAt} />
        </td>
      </tr>
    );
  }
}

/** The server-side filters this page passes on to GET /requests, from the query string. */
function listFilter(route: Route, me: Whoami) {
  const q = route.query;
  const time = (name: string) => {
    const v = q.get(name);
    return v ? new Date(v).toISOString() : undefined;
  };
  return {
    status: q.get("status") ?? undefined,
    tenantId: tenantOf(route, me),
    kind: q.get("kind") ?? undefined,
    userId: q.get("userId") ?? undefined,
    channelId: q.get("channelId") ?? undefined,
    sessionId: q.get("sessionId") ?? undefined,
    tag: q.get("tag") ?? undefined,
    from: time("from"),
    to: time("to"),
  };
}

/**
 * The requests list: server-side filters and cursor pages, with live changes from the SSE
 * stream. Visible rows update in place; new requests wait behind an "N new" banner so the
 * table never jumps under the reader's eyes.
 */
export function RequestsPage({ route, me }: { route: Route; me: Whoami }) {
  const filter = listFilter(route, me);
  const cursor = route.query.get("cursor") ?? undefined;
  const search = route.query.get("q")?.trim() ?? "";
  const [page, setPage] = useState<Page<RequestRow> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [fresh, setFresh] = useState<number>(0);
  const [reloads, setReloads] = useState(0);
  const rowsRef = useRef<Page<RequestRow> | null>(null);
  rowsRef.current = page;
  const key = JSON.stringify({ filter, cursor, search });

  useEffect(() => {
    let stale = false;
    setError(null);
    const load: Promise<Page<RequestRow>> = search
      ? api<RequestRow>(`/requests/${encodeURIComponent(search)}`).then(
          (r) => ({ items: [r], total: 1, nextCursor: null }),
          (e: unknown) => {
            if (e instanceof ApiError && (e.status === 404 || e.status === 400))
              return { items: [], total: 0, nextCursor: null };
            throw e;
          },
        )
      : api<Page<RequestRow>>(withQuery("/requests", { ...filter, cursor, limit: PAGE_SIZE }));
    load.then(
      (p) => {
        if (stale) return;
        setPage(p);
        setFresh(0);
      },
      (e: unknown) => !stale && setError(e),
    );
    return () => {
      stale = true;
    };
  }, [key, reloads]);

  // Live: patch visible rows, count new ones.
  useEffect(() => {
    const changed = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const refresh = () => {
      timer = null;
      const ids = [...changed];
      changed.clear();
      for (const id of ids) {
        api<RequestRow>(`/requests/${encodeURIComponent(id)}`).then(
          (row) =>
            setPage((p) =>
              p ? { ...p, items: p.items.map((r) => (r.id === row.id ? row : r)) } : p,
            ),
          () => {},
        );
      }
    };
    const live = {
      tenantId: filter.tenantId,
      kind: filter.kind,
    };
    return subscribeLive(live, (m) => {
      if (m.type === "resync") {
        setReloads((n) => n + 1);
        return;
      }
      if (!m.requestId) return;
      const visible = rowsRef.current?.items.some((r) => r.id === m.requestId);
      if (visible) {
        const { requestId, status } = m;
        if (status)
          setPage((p) =>
            p
              ? {
                  ...p,
                  items: p.items.map((r) =>
                    r.id === requestId && r.status !== status
                      ? { ...r, status: status as RequestRow["status"] }
                      : r,
                  ),
                }
              : p,
          );
        changed.add(requestId);
        timer ??= setTimeout(refresh, REFRESH_ROWS_MS);
      } else if (m.type === "request.created" && !search) {
        const statuses = filter.status?.split(",");
        if (!statuses || (m.status && statuses.includes(m.status))) setFresh((n) => n + 1);
      }
    });
  }, [filter.tenantId, filter.kind, filter.status, search]);

  const status = route.query.get("status") ?? "";
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title">Requests</h1>
        <span class="muted" id="requests-total">
          {page ? `${int(page.total)} ${page.total === 1 ? "request" : "requests"}` : ""}
        </span>
      </div>
      <Toolbar>
        <TextFilter
          route={route}
          name="q"
          label="Find by id"
          placeholder="req_…"
          extra={{ cursor: null }}
        />
        <label class="field">
          <span>Status</span>
          <select
            name="status"
            value={status}
            onChange={(e) =>
              navigate(hrefWith(route, { status: e.currentTarget.value, cursor: null }), true)
            }
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
            <option value="failed,timeout">failed or timeout</option>
          </select>
        </label>
        <TenantFilter route={route} me={me} />
        <TextFilter route={route} name="kind" label="Kind" extra={{ cursor: null }} />
        <TextFilter route={route} name="userId" label="User" extra={{ cursor: null }} />
        <TextFilter route={route} name="channelId" label="Channel" extra={{ cursor: null }} />
        <TextFilter route={route} name="sessionId" label="Session" extra={{ cursor: null }} />
        <TextFilter route={route} name="tag" label="Tag" extra={{ cursor: null }} />
        <DateFilter route={route} name="from" label="From" />
        <DateFilter route={route} name="to" label="To" />
        {route.query.toString() && (
          <button type="button" class="link" onClick={() => navigate("/requests", true)}>
            Clear filters
          </button>
        )}
      </Toolbar>
      {fresh > 0 && (
        <button
          type="button"
          class="banner"
          id="new-banner"
          onClick={() =>
            cursor ? navigate(hrefWith(route, { cursor: null })) : setReloads((n) => n + 1)
          }
        >
          {fresh} new {fresh === 1 ? "request" : "requests"}: show
        </button>
      )}
      {error ? <ErrorBox error={error} /> : null}
      {page && page.items.length === 0 && (
        <Empty>
          {search ? (
            `No request with id ${search} (or it belongs to another tenant).`
          ) : route.query.toString() ? (
            "No request matches these filters: widen them or clear them."
          ) : (
            <>
              No requests yet: run <code>npx reqtrack demo</code> or <code>npm start</code>.
            </>
          )}
        </Empty>
      )}
      {page && page.items.length > 0 && (
        <div class="table-wrap">
          <table class="requests">
            <thead>
              <tr>
                <th>Id</th>
                <th>Status</th>
                <th>Tenant</th>
                <th>Kind</th>
                <th>User</th>
                <th>Lane</th>
                <th class="num">Queue wait</th>
                <th class="num">Run time</th>
                <th class="num">Attempts</th>
                <th class="num">Cost</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((r) => (
                <Row key={r.id} row={r} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="pager">
        {cursor && (
          <Link href={hrefWith(route, { cursor: null })} class="button">
            ← Newest
          </Link>
        )}
        {page?.nextCursor && (
          <Link href={hrefWith(route, { cursor: page.nextCursor })} class="button" id="next-page">
            Older →
          </Link>
        )}
      </div>
    </section>
  );
}

/** A local date-time filter, sent to the API as ISO-8601. */
function DateFilter({ route, name, label }: { route: Route; name: string; label: string }) {
  return (
    <label class="field">
      <span>{label}</span>
      <input
        type="datetime-local"
        name={name}
        value={route.query.get(name) ?? ""}
        onChange={(e) =>
          navigate(hrefWith(route, { [name]: e.currentTarget.value, cursor: null }), true)
        }
      />
    </label>
  );
}
