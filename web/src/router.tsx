import type { AnchorHTMLAttributes, ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

/** Where the viewer is: the path and the query string (filters live there, so links share). */
export interface Route {
  path: string;
  query: URLSearchParams;
}

const current = (): Route => ({
  path: location.pathname,
  query: new URLSearchParams(location.search),
});

const listeners = new Set<() => void>();
addEventListener("popstate", () => listeners.forEach((l) => l()));

/** Goes to `href` without a reload; `replace` keeps the history entry (filter edits). */
export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  scrollTo(0, 0);
  listeners.forEach((l) => l());
}

/** The current route; re-renders on every navigation. */
export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return route;
}

/** The current query with `changes` applied (empty values removed). */
export function hrefWith(route: Route, changes: Record<string, string | null>, path = route.path) {
  const q = new URLSearchParams(route.query);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null || value === "") q.delete(name);
    else q.set(name, value);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** An <a> that navigates in the page (ctrl/middle click still opens a new tab). */
export function Link(
  props: { href: string; children: ComponentChildren } & AnchorHTMLAttributes<HTMLAnchorElement>,
) {
  const { href, children, ...rest } = props;
  return (
    <a
      {...rest}
      href={href}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
