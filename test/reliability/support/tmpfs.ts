import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A size-limited filesystem (tmpfs), when this process may mount one (root, no sandbox). */
export interface SmallDisk {
  dir: string;
  unmount(): void;
}

/** Mounts a tmpfs of `kib` KiB, or says why it cannot. */
export function mountSmallDisk(kib: number): SmallDisk | { reason: string } {
  const dir = mkdtempSync(join(tmpdir(), "reqtrack-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `cannot mount a tmpfs here (${(error as Error).message.split("\n")[0]})` };
  }
  return {
    dir,
    unmount: () => {
      execFileSync("umount", [dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
