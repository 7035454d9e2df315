import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

/**
 * A small JSON file saying how far an export or import got. It is replaced atomically
 * (write, then rename), so after a kill it holds the last completed step, never half of one.
 */
export class Checkpoint<T extends object> {
  constructor(readonly path: string) {}

  read(): T | null {
    try {
      return JSON.parse(readFileSync(this.path, "utf8")) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  write(state: T): void {
    writeFileSync(`${this.path}.tmp`, JSON.stringify(state));
    renameSync(`${this.path}.tmp`, this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
