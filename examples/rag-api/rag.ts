import { randomUUID } from "node:crypto";
import { currentRequest, ValidationError } from "reqtrack";
import type { FakeServices } from "./fake-services.js";

/** What a route handler gets, whichever framework serves it. */
export interface RouteInput {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: Record<string, unknown>;
}

/** A route of the API: method, pattern (`:param` syntax), operation type and handler. */
export interface Route {
  method: "GET" | "POST" | "DELETE";
  path: string;
  kind: string;
  handle(input: RouteInput): Promise<unknown>;
}

/** A 404 of the RAG data (an entity, session or document), not of a tracked request. */
export class MissingError extends Error {
  readonly field: string;
  constructor(field: string, id: string) {
    super(`${field} ${id} not found`);
    this.field = field;
  }
}

interface Item {
  status: "active" | "inactive";
  deactivated_at: string | null;
}
interface Entity extends Item {
  entity_id: string;
  name: string;
}
interface Session extends Item {
  session_id: string;
  entity_id: string;
}
interface Doc extends Item {
  doc_id: string;
  entity_id: string;
  filename: string;
  chunks: string[];
}

function text(body: Record<string, unknown>, field: string, max = 10_000): string {
  const value = body[field];
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new ValidationError(field, `must be a string of 1 to ${max} characters`);
  }
  return value;
}

/**
 * An entity-scoped RAG API in memory: entities own documents and chat sessions; deletes are
 * soft (`inactive` with `deactivated_at`), so costs and audit survive them.
 */
export class RagApi {
  private readonly entities = new Map<string, Entity>();
  private readonly sessions = new Map<string, Session>();
  private readonly docs = new Map<string, Doc>();

  constructor(
    private readonly services: FakeServices,
    private readonly clock: () => number = Date.now,
  ) {}

  private active<T extends Item>(map: Map<string, T>, field: string, id: string | undefined): T {
    const item = id === undefined ? undefined : map.get(id);
    if (!item || item.status !== "active") throw new MissingError(field, id ?? "");
    return item;
  }

  private deactivate(item: Item): void {
    item.status = "inactive";
    item.deactivated_at = new Date(this.clock()).toISOString();
  }

  /** The routes with the seed's operation type of each. */
  routes(): Route[] {
    return [
      { method: "GET", path: "/health", kind: "health", handle: async () => ({ ok: true }) },
      {
        method: "POST",
        path: "/api/entities",
        kind: "entity_create",
        handle: async ({ body }) => {
          const entity: Entity = {
            entity_id: text(body, "entity_id", 256),
            name: typeof body.name === "string" ? body.name : text(body, "entity_id", 256),
            status: "active",
            deactivated_at: null,
          };
          this.entities.set(entity.entity_id, entity);
          return entity;
        },
      },
      {
        method: "GET",
        path: "/api/entities/:entity_id",
        kind: "entity_read",
        handle: async ({ params }) => this.active(this.entities, "entity_id", params.entity_id),
      },
      {
        method: "DELETE",
        path: "/api/entities/:entity_id",
        kind: "entity_delete",
        handle: async ({ params }) => {
          const entity = this.active(this.entities, "entity_id", params.entity_id);
          this.deactivate(entity);
          let sessions = 0;
          for (const s of this.sessions.values()) {
            if (s.entity_id === entity.entity_id && s.status === "active") {
              this.deactivate(s);
              sessions++;
            }
          }
          return {
            success: true,
            entity_id: entity.entity_id,
            message: `Entity ${entity.entity_id} marked as inactive`,
            sessions_deactivated: sessions,
            note: "Data preserved for audit and cost tracking",
          };
        },
      },
      {
        method: "POST",
        path: "/api/entities/:entity_id/files",
        kind: "file_upload",
        handle: async ({ params, body }) => {
          const entity = this.active(this.entities, "entity_id", params.entity_id);
          const filename = text(body, "filename", 256);
          const chunks = await this.services.parse(filename, text(body, "content", 1_000_000));
          await this.services.embed(chunks);
          const doc: Doc = {
            doc_id: `doc_${randomUUID()}`,
            entity_id: entity.entity_id,
            filename,
            chunks,
            status: "active",
            deactivated_at: null,
          };
          this.docs.set(doc.doc_id, doc);
          return { doc_id: doc.doc_id, chunks: chunks.length };
        },
      },
      {
        method: "DELETE",
        path: "/api/entities/:entity_id/files/:doc_id",
        kind: "file_delete",
        handle: async ({ params }) => {
          const doc = this.active(this.docs, "doc_id", params.doc_id);
          if (doc.entity_id !== params.entity_id) throw new MissingError("doc_id", doc.doc_id);
          this.deactivate(doc);
          return { success: true, doc_id: doc.doc_id };
        },
      },
      {
        method: "POST",
        path: "/api/chat/sessions",
        kind: "chat_session_create",
        handle: async ({ body }) => {
          const entity = this.active(this.entities, "entity_id", text(body, "entity_id", 256));
          const session: Session = {
            session_id: `session_${randomUUID().slice(0, 8)}`,
            entity_id: entity.entity_id,
            status: "active",
            deactivated_at: null,
          };
          this.sessions.set(session.session_id, session);
          // The session id is made here, after the middleware recorded the call: set it.
          await currentRequest()?.setContext({ sessionId: session.session_id });
          return session;
        },
      },
      {
        method: "DELETE",
        path: "/api/chat/sessions/:session_id",
        kind: "chat_session_delete",
        handle: async ({ params }) => {
          this.deactivate(this.active(this.sessions, "session_id", params.session_id));
          return { success: true, session_id: params.session_id };
        },
      },
      {
        method: "POST",
        path: "/api/chat",
        kind: "chat_message",
        handle: async ({ body }) => {
          const session = this.active(this.sessions, "session_id", text(body, "session_id", 256));
          if (session.entity_id !== text(body, "entity_id", 256)) {
            throw new MissingError("session_id", session.session_id);
          }
          const message = text(body, "message");
          const context = await this.retrieve(session.entity_id, message);
          const answer = await this.services.complete(`${context.join(" ")}\n${message}`);
          return { session_id: session.session_id, answer, sources: context.length };
        },
      },
      {
        method: "POST",
        path: "/api/search",
        kind: "search",
        handle: async ({ body }) => {
          const entity = this.active(this.entities, "entity_id", text(body, "entity_id", 256));
          return { results: await this.retrieve(entity.entity_id, text(body, "query")) };
        },
      },
      {
        method: "GET",
        path: "/api/knowledge-graph",
        kind: "knowledge_graph",
        handle: async ({ query }) => {
          const entity = this.active(this.entities, "entity_id", query.entity_id);
          const docs = [...this.docs.values()].filter((d) => d.entity_id === entity.entity_id);
          return { nodes: docs.map((d) => d.filename), edges: [] };
        },
      },
      {
        method: "GET",
        path: "/api/status/workers",
        kind: "status",
        handle: async () => ({ workers: 2, busy: 0 }),
      },
    ];
  }

  /** The chunks of the entity's active documents sharing a word with the query (embedded first). */
  private async retrieve(entityId: string, query: string): Promise<string[]> {
    await this.services.embed([query]);
    const terms = new Set(
      query
        .toLowerCase()
        .split(/\W+/)
        .filter((w) => w.length > 3),
    );
    return [...this.docs.values()]
      .filter((d) => d.entity_id === entityId && d.status === "active")
      .flatMap((d) => d.chunks)
      .filter((c) =>
        c
          .toLowerCase()
          .split(/\W+/)
          .some((w) => terms.has(w)),
      )
      .slice(0, 5);
  }
}
