import { MissingDependencyError } from "../core/errors.js";

/**
 * Imports an optional package on first use, so that nothing of it loads unless asked for;
 * when it is not installed, throws a `MissingDependencyError` that says what to install.
 */
export async function importOptional<T>(packageName: string, feature: string): Promise<T> {
  try {
    return (await import(packageName)) as T;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new MissingDependencyError(packageName, feature, { cause: error });
    }
    throw error;
  }
}
