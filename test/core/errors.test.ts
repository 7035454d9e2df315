import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ERROR_CODES,
  InvalidTransitionError,
  ReqtrackError,
  ValidationError,
} from "../../src/core/errors.js";

const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

describe("error registry", () => {
  it.each(Object.keys(ERROR_CODES))(
    "documents %s in docs/errors.md with its HTTP status",
    (code) => {
      const row = doc
        .split("\n")
        .map((line) => line.split("|").map((cell) => cell.trim()))
        .find((cells) => cells[1] === `\`${code}\``);
      expect(row, `${code} has no row in docs/errors.md`).toBeDefined();
      expect(row?.[2]).toBe(String(ERROR_CODES[code as keyof typeof ERROR_CODES].status));
      expect(row?.[4]?.length, `${code} needs a description`).toBeGreaterThan(10);
    },
  );

  it("documents no code that does not exist", () => {
    const documented = [...doc.matchAll(/^\| `(RT_ERR_[A-Z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("gives every error its code, status, name and JSON form", () => {
    const error = new ValidationError("priority", "must be between 0 and 1");
    expect(error).toBeInstanceOf(ReqtrackError);
    expect(error).toMatchObject({
      code: "RT_ERR_VALIDATION",
      status: 400,
      name: "ValidationError",
      field: "priority",
    });
    expect(error.toJSON()).toEqual({
      code: "RT_ERR_VALIDATION",
      message: "priority: must be between 0 and 1",
      field: "priority",
    });
    const transition = new InvalidTransitionError("completed", "running");
    expect(transition.message).toBe("Invalid status transition: completed -> running");
    expect(transition.status).toBe(409);
  });
});
