import { Component } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, withQuery } from "../api";
import { Empty, ErrorBox, StatusBadge, Time } from "../components";
import { TenantFilter, tenantOf, TextFilter, Toolbar } from "../filters";
import { duration, int, usd } from "../format";
import { type LiveMessage, subscribeLive } from "../live";
import { renders } from "../render-count";
import { hrefWith, Link, navigate, type Route } from "../router";
import {
  type CostSplitItem,
  type Page,
  type RequestRow,
  STATUSES,
  type Status,
  type Whoami,
} from "../types";

const PAGE_SIZE = 50;
/** `?limit=` may ask for up to this many rows per page. */
const MAX_PAGE_SIZE = 200;
/**
 * Changed rows are re-read at most this often (each at most once per period), so 200 changes/s
 * cost at most one read per visible row per second; their status shows at once from the event.
 */
const REFRESH_ROWS_MS = 1000;

type Split = CostSplitItem[];
type RowProps = { row: RequestRow; split: Split | undefined };

/**
 * One table row; re-renders only when what it shows changed (a new row object or split: see
 * `mergeRows`), not on every event. `data-renders` counts its renders for the tests.
 */
class Row extends Component<RowProps> {
  private renders = 0;
  override shouldComponentUpdate(next: RowProps) {
    return next.row !== this.props.row || next.split !== this.props.split;
  }
  override render() {
    const r = this.props.row;
    const split = this.props.split;
    renders.requestRows++;
    return (
      <tr data-id={r.id} data-renders={++this.renders}>
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
        <td class="num cost">
          {usd(r.costUsd)}
          {split && split.length > 0 && (
            <div class="split" title="Cost per service">
              {split.map((c) => `${c.service} ${usd(c.costUsd)}`).join(" · ")}
            </div>
          )}
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
    source: q.get("source") ?? undefined,
    tag: q.get("tag") ?? undefined,
    prompt: q.get("prompt") ?? undefined,
    from: time("from"),
    to: time("to"),
  };
}

/** The page size: `?limit=` within 1..MAX_PAGE_SIZE, else PAGE_SIZE. */
function pageSize(route: Route): number {
  const n = Number(route.query.get("limit"));
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_PAGE_SIZE) : PAGE_SIZE;
}

/** What a row shows; a re-read row equal in all of them keeps its object (no re-render). */
const SHOWN: (keyof RequestRow)[] = [
  "status",
  "tenantId",
  "kind",
  "userId",
  "lane",
  "queueMs",
  "durationMs",
  "attempts",
  "maxAttempts",
  "costUsd",
  "createdAt",
];

/** `rows` with each re-read row in `fresh` taking its place only when what it shows changed. */
function mergeRows(rows: RequestRow[], fresh: Map<string, RequestRow>): RequestRow[] {
  let changed = false;
  const next = rows.map((old) => {
    const row = fresh.get(old.id);
    if (!row || SHOWN.every((k) => row[k] === old[k])) return old;
    changed = true;
    return row;
  });
  return changed ? next : rows;
}

const sameSplit = (a: Split | undefined, b: Split | undefined) =>
  JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

/** The per-service split of `ids` (those with a cost), one call for the whole page. */
async function loadSplits(ids: string[]): Promise<Map<string, Split>> {
  const splits = new Map<string, Split>();
  if (ids.length === 0) return splits;
  const { items } = await api<{ items: CostSplitItem[] }>(
    withQuery("/costs/by-request", { ids: ids.join(",") }),
  );
  for (const item of items) {
    const list = splits.get(item.requestId) ?? [];
    list.push(item);
    splits.set(item.requestId, list);
  }
  return splits;
}

/** Keeps the split objects of rows whose split did not change, so those rows do not re-render. */
function mergeSplits(
  current: Record<string, Split>,
  fresh: Map<string, Split>,
  ids: string[],
): Record<string, Split> {
  let changed = false;
  const next = { ...current };
  for (const id of ids) {
    const split = fresh.get(id);
    if (sameSplit(current[id], split)) continue;
    changed = true;
    if (split) next[id] = split;
    else delete next[id];
  }
  return changed ? next : current;
}

/**
 * The requests list: server-side filters and cursor pages, with live changes from the SSE
 * stream. Visible rows update in place; new requests wait behind an "N new" banner so the
 * table never jumps under the reader's eyes. Stream messages are applied once per animation
 * frame, however many arrived, and changed rows are re-read together at most once a second.
 */
export function RequestsPage({ route, me }: { route: Route; me: Whoami }) {
  renders.requestsPage++;
  const filter = listFilter(route, me);
  const cursor = route.query.get("cursor") ?? undefined;
  const search = route.query.get("q")?.trim() ?? "";
  const limit = pageSize(route);
  const [page, setPage] = useState<Page<RequestRow> | null>(null);
  const [splits, setSplits] = useState<Record<string, Split>>({});
  const [error, setError] = useState<unknown>(null);
  const [fresh, setFresh] = useState<number>(0);
  const [reloads, setReloads] = useState(0);
  const rowsRef = useRef<Page<RequestRow> | null>(null);
  rowsRef.current = page;
  const key = JSON.stringify({ filter, cursor, search, limit });

  /** The rows of this page as the server has them now (one call, whatever the page). */
  const read = (): Promise<Page<RequestRow>> =>
    search
      ? api<RequestRow>(`/requests/${encodeURIComponent(search)}`).then(
          (r) => ({ items: [r], total: 1, nextCursor: null }),
          (e: unknown) => {
            if (e instanceof ApiError && (e.status === 404 || e.status === 400))
              return { items: [], total: 0, nextCursor: null };
            throw e;
          },
        )
      : api<Page<RequestRow>>(withQuery("/requests", { ...filter, cursor, limit }));
  const readRef = useRef(read);
  readRef.current = read;

  useEffect(() => {
    let stale = false;
    setError(null);
    read()
      .then(async (p) => {
        const costed = p.items.filter((r) => r.costUsd > 0).map((r) => r.id);
        const split = await loadSplits(costed).catch(() => new Map<string, Split>());
        return { p, split, costed };
      })
      .then(
        ({ p, split, costed }) => {
          if (stale) return;
          setPage(p);
          setSplits(mergeSplits({}, split, costed));
          setFresh(0);
        },
        (e: unknown) => !stale && setError(e),
      );
    return () => {
      stale = true;
    };
  }, [key, reloads]);

  // Live: patch visible rows, count new ones; once per frame, whatever the rate.
  useEffect(() => {
    const changed = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    let frame: number | null = null;
    let queued: LiveMessage[] = [];

    const refresh = () => {
      timer = null;
      const ids = [...changed];
      changed.clear();
      void readRef
        .current()
        .then(async (p) => {
          const rows = new Map(p.items.map((r) => [r.id, r]));
          const costed = ids.filter((id) => (rows.get(id)?.costUsd ?? 0) > 0);
          const split = await loadSplits(costed);
          setPage((current) =>
            current ? { ...current, items: mergeRows(current.items, rows) } : current,
          );
          setSplits((current) => mergeSplits(current, split, ids));
        })
        .catch(() => {});
    };

    const flush = () => {
      frame = null;
      const messages = queued;
      queued = [];
      const visible = new Set(rowsRef.current?.items.map((r) => r.id));
      const statuses = new Map<string, Status>();
      let created = 0;
      for (const m of messages) {
        if (m.type === "resync") {
          setReloads((n) => n + 1);
          return;
        }
        if (!m.requestId) continue;
        if (visible.has(m.requestId)) {
          if (m.status) statuses.set(m.requestId, m.status as Status);
          changed.add(m.requestId);
        } else if (m.type === "request.created" && !search) {
          const wanted = filter.status?.split(",");
          if (!wanted || (m.status && wanted.includes(m.status))) created++;
        }
      }
      if (statuses.size > 0)
        setPage((p) => {
          if (!p) return p;
          let any = false;
          const items = p.items.map((r) => {
            const status = statuses.get(r.id);
            if (!status || status === r.status) return r;
            any = true;
            return { ...r, status };
          });
          return any ? { ...p, items } : p;
        });
      if (created > 0) setFresh((n) => n + created);
      if (changed.size > 0) timer ??= setTimeout(refresh, REFRESH_ROWS_MS);
    };

    const stop = subscribeLive({ tenantId: filter.tenantId, kind: filter.kind }, (m) => {
      queued.push(m);
      frame ??= requestAnimationFrame(flush);
    });
    return () => {
      stop();
      if (frame !== null) cancelAnimationFrame(frame);
      if (timer !== null) clearTimeout(timer);
    };
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
        <TextFilter route={route} name="source" label="Source" extra={{ cursor: null }} />
        <TextFilter route={route} name="tag" label="Tag" extra={{ cursor: null }} />
        <TextFilter
          route={route}
          name="prompt"
          label="Prompt contains"
          placeholder="text…"
          extra={{ cursor: null }}
        />
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
                <Row key={r.id} row={r} split={splits[r.id]} />
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
