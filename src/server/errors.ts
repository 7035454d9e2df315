import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import {
  BudgetExceededError,
  NotFoundError,
  ReqtrackError,
  ValidationError,
} from "../core/errors.js";

/** The JSON body of every error answer: a stable `code`, a human `message`, maybe a `field`. */
export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  /** RT_ERR_BUDGET_EXCEEDED: the spent budget's figures. */
  budget?: BudgetExceededError["budget"];
}

/**
 * Maps every error to `{ code, message, field? }` with the right status. Anything a client
 * sends gets a 4xx; a 500 means a bug in reqtrack, and its details stay in the log.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issue = error.validation[0];
    const path = issue?.instancePath.replace(/^\//, "").replaceAll("/", ".") ?? "";
    const unknownKeys =
      issue?.keyword === "unrecognized_keys" ? (issue.params.keys as string[]) : [];
    const field = unknownKeys[0]
      ? [path, unknownKeys[0]].filter(Boolean).join(".")
      : path || error.validationContext || "body";
    const message =
      unknownKeys.length > 0
        ? `unknown field(s) ${unknownKeys.join(", ")}`
        : (issue?.message ?? "is invalid");
    return reply
      .status(400)
      .send({ code: "RT_ERR_VALIDATION", message: `${field}: ${message}`, field });
  }
  if (error instanceof ReqtrackError) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error instanceof ValidationError) body.field = error.field;
    if (error instanceof NotFoundError && error.field !== undefined) body.field = error.field;
    if (error instanceof BudgetExceededError) {
      body.budget = error.budget;
      reply.header("retry-after", String(error.budget.retryAfterSeconds));
    }
    return reply.status(error.status).send(body);
  }
  const status = error.statusCode ?? 500;
  if (status === 413) {
    return reply
      .status(413)
      .send({ code: "RT_ERR_PAYLOAD_TOO_LARGE", message: "The request body is over the limit" });
  }
  if (status >= 400 && status < 500) {
    // Malformed JSON, a wrong content type, ...: Fastify's own checks, with its message.
    return reply
      .status(status === 415 ? 415 : 400)
      .send({ code: "RT_ERR_VALIDATION", message: error.message, field: "body" });
  }
  request.log.error({ err: error }, "unexpected error");
  return reply
    .status(500)
    .send({ code: "RT_ERR_INTERNAL", message: "Internal error; see the server log" });
}

/**
 * Fastify's own errors from before routing (a URL whose percent escapes do not decode): they
 * skip the error handler, and without this answer with Fastify's uncoded 400.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const body: ErrorBody = {
    code: "RT_ERR_VALIDATION",
    message: `url: ${error.message}`,
    field: "url",
  };
  void reply.status(400).send(body);
}
