import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { NotFoundError, ValidationError } from "reqtrack";

/**
 * The examples' Fastify error handler: bad input is a 400 with a stable `code` naming the
 * field, an unknown id a 404, anything else a 500 whose details stay in the log.
 */
export function exampleErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof ValidationError) {
    return reply.status(400).send({ code: error.code, message: error.message, field: error.field });
  }
  if (error instanceof NotFoundError) {
    return reply.status(404).send({ code: error.code, message: error.message });
  }
  if (error.statusCode && error.statusCode < 500) {
    return reply
      .status(error.statusCode)
      .send({ code: error.code ?? "RT_ERR_VALIDATION", message: error.message, field: "body" });
  }
  request.log.error({ err: error }, "handler failed");
  return reply.status(500).send({ code: "RT_ERR_INTERNAL", message: "internal error" });
}

/** A whole number from a query string, within [min, max]; `fallback` when absent. */
export function intParam(
  field: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(field, `must be a whole number from ${min} to ${max}`);
  }
  return n;
}
