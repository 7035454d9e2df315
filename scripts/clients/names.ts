/** How the generators name things in each language. */

/** `createRequest` -> `CreateRequest`; `get /api/v1/x/{id}` -> `GetApiV1XId`. */
export const pascal = (name: string): string =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join("");

/** `snake_case` for Python: `createRequest` -> `create_request`, `userId` -> `user_id`. */
export const snake = (name: string): string =>
  name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_|_$/g, "")
    .toLowerCase();
