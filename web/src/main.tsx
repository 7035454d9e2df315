import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, apiKey, onUnauthorized, setApiKey } from "./api";
import { ErrorBox } from "./components";
import { BreakersPage } from "./pages/breakers";
import { BudgetsPage } from "./pages/budgets";
import { ComparePage } from "./pages/compare";
import { CostsPage } from "./pages/costs";
import { OverviewPage } from "./pages/overview";
import { QueuePage } from "./pages/queue";
import { RequestDetailPage } from "./pages/request-detail";
import { ReplaysPage } from "./pages/replays";
import { RequestsPage } from "./pages/requests";
import { StagesPage } from "./pages/stages";
import { Link, type Route, useRoute } from "./router";
import "./style.css";
import type { Whoami } from "./types";

const NAV = [
  ["/", "Overview"],
  ["/requests", "Requests"],
  ["/costs", "Costs"],
  ["/stages", "Stages"],
  ["/budgets", "Budgets"],
  ["/replays", "Replays"],
  ["/breakers", "Breakers"],
  ["/queue", "Queue"],
] as const;

function Page({ route, me }: { route: Route; me: Whoami }) {
  const compare = /^\/requests\/([^/]+)\/compare\/([^/]+)$/.exec(route.path);
  if (compare?.[1] && compare[2])
    return (
      <ComparePage
        id={decodeURIComponent(compare[1])}
        otherId={decodeURIComponent(compare[2])}
        me={me}
      />
    );
  const detail = /^\/requests\/([^/]+)$/.exec(route.path);
  if (detail?.[1]) return <RequestDetailPage id={decodeURIComponent(detail[1])} me={me} />;
  switch (route.path) {
    case "/":
      return <OverviewPage route={route} me={me} />;
    case "/requests":
      return <RequestsPage route={route} me={me} />;
    case "/costs":
      return <CostsPage route={route} me={me} />;
    case "/stages":
      return <StagesPage route={route} me={me} />;
    case "/breakers":
      return <BreakersPage />;
    case "/budgets":
      return <BudgetsPage route={route} me={me} />;
    case "/replays":
      return <ReplaysPage route={route} me={me} />;
    case "/queue":
      return <QueuePage route={route} me={me} />;
    default:
      return <ErrorBox error={new Error(`No page at ${route.path}`)} />;
  }
}

/**
 * Asks for an API key when the server needs one. The key is checked against the API
 * (GET /whoami) before it is kept, and a refused one says why instead of a blank page.
 */
function SignIn({ problem, onKey }: { problem: string | null; onKey: (key: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <main class="signin">
      <h1>reqtrack</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onKey(value.trim());
        }}
      >
        <label for="apikey">API key</label>
        <p class="muted">
          This server needs an API key. It is kept in this browser tab only (sessionStorage).
        </p>
        <input
          id="apikey"
          type="password"
          autocomplete="off"
          autofocus
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <button type="submit">Sign in</button>
        {problem && (
          <p class="error" role="alert" id="signin-error">
            {problem}
          </p>
        )}
      </form>
    </main>
  );
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState<Whoami | null>(null);
  const [needKey, setNeedKey] = useState<string | null | false>(false);
  const [fatal, setFatal] = useState<unknown>(null);

  const check = () =>
    api<Whoami>("/whoami").then(
      (who) => {
        setMe(who);
        setNeedKey(false);
      },
      (error: unknown) => {
        if (error instanceof ApiError && error.status === 401) {
          setMe(null);
          setNeedKey(
            apiKey() ? `That key was refused: ${error.message}. Check it and try again.` : null,
          );
          setApiKey(null);
        } else setFatal(error);
      },
    );
  useEffect(() => {
    void check();
    return onUnauthorized(() => void check());
  }, []);

  if (fatal) return <ErrorBox error={fatal} />;
  if (needKey !== false)
    return (
      <SignIn
        problem={needKey}
        onKey={(key) => {
          setApiKey(key);
          void check();
        }}
      />
    );
  if (!me) return <p class="loading">Loading…</p>;
  const section = route.path.startsWith("/requests") ? "/requests" : route.path;
  return (
    <>
      <header class="top">
        <Link href="/" class="brand">
          reqtrack
        </Link>
        <nav aria-label="Pages">
          {NAV.map(([href, label]) => (
            <Link key={href} href={href} aria-current={section === href ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span class="who" title={me.keyId ? `key ${me.keyId}` : "no API key exists"}>
          {me.keyId ? `${me.role}${me.tenantId ? ` · ${me.tenantId}` : ""}` : "open (loopback)"}
          {me.keyId && (
            <button
              class="link"
              onClick={() => {
                setApiKey(null);
                setMe(null);
                setNeedKey(null);
              }}
            >
              Sign out
            </button>
          )}
        </span>
      </header>
      <main>
        <Page route={route} me={me} />
      </main>
    </>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
