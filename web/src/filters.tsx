import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { hrefWith, navigate, type Route } from "./router";
import type { Whoami } from "./types";

export const WINDOWS = ["1h", "24h", "7d", "30d"] as const;

/** The window in the query string, or 24h. */
export function windowOf(route: Route): string {
  const w = route.query.get("window");
  return w && (WINDOWS as readonly string[]).includes(w) ? w : "24h";
}

/** A bar of filters above a page. */
export function Toolbar({ children }: { children: ComponentChildren }) {
  return <div class="toolbar">{children}</div>;
}

/** 1 h / 24 h / 7 d / 30 d as a group of toggle buttons, kept in `?window=`. */
export function WindowPicker({ route }: { route: Route }) {
  const current = windowOf(route);
  return (
    <div class="segmented" role="group" aria-label="Window">
      {WINDOWS.map((w) => (
        <button
          key={w}
          type="button"
          aria-pressed={w === current}
          onClick={() => navigate(hrefWith(route, { window: w }), true)}
        >
          {w}
        </button>
      ))}
    </div>
  );
}

/**
 * A text filter kept in the query string under `name`, applied on Enter or when it loses
 * focus (not on each key, which would fetch per keystroke).
 */
export function TextFilter(props: {
  route: Route;
  name: string;
  label: string;
  placeholder?: string;
  extra?: Record<string, string | null>;
}) {
  const value = props.route.query.get(props.name) ?? "";
  // What the reader is typing is kept, tied to the query value it started from: a re-render
  // while they type (rows arriving, a live change) must not put the query's value back over
  // their text, and a new query value (navigation) shows at once. No effect syncs the two: an
  // effect runs after paint, and would wipe text typed in between.
  const [typed, setTyped] = useState({ from: value, text: value });
  const draft = typed.from === value ? typed.text : value;
  const apply = (next: string) => {
    if (next !== value)
      navigate(hrefWith(props.route, { [props.name]: next.trim(), ...props.extra }), true);
  };
  return (
    <label class="field">
      <span>{props.label}</span>
      <input
        name={props.name}
        value={draft}
        placeholder={props.placeholder}
        onInput={(e) => setTyped({ from: value, text: e.currentTarget.value })}
        onKeyDown={(e) => e.key === "Enter" && apply(e.currentTarget.value)}
        onBlur={(e) => apply(e.currentTarget.value)}
      />
    </label>
  );
}

/** The tenant filter: free for admins, fixed (shown, not editable) for a tenant's key. */
export function TenantFilter({ route, me }: { route: Route; me: Whoami }) {
  if (me.tenantId !== null)
    return (
      <label class="field">
        <span>Tenant</span>
        <input value={me.tenantId} disabled />
      </label>
    );
  return <TextFilter route={route} name="tenantId" label="Tenant" placeholder="all tenants" />;
}

/** The tenant a page asks for: the key's own, else the query's. */
export const tenantOf = (route: Route, me: Whoami): string | undefined =>
  me.tenantId ?? (route.query.get("tenantId") || undefined);
