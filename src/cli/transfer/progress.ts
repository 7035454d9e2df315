/**
 * A progress bar with rate and ETA on a terminal (stderr), redrawn at most every 200 ms;
 * silent when stderr is not a terminal, so scripts and logs stay clean.
 */
export class Progress {
  private readonly started = Date.now();
  private last = 0;
  /** Whether it draws: given, else when stderr is a terminal. */
  readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private total: number | null,
    private readonly start = 0,
    enabled?: boolean,
  ) {
    this.enabled = enabled ?? process.stderr.isTTY === true;
  }

  update(done: number, total: number | null = this.total): void {
    this.total = total;
    const now = Date.now();
    if (!this.enabled || now - this.last < 200) return;
    this.last = now;
    process.stderr.write(`\r${this.line(done, now)}\x1b[K`);
  }

  finish(done: number): void {
    if (this.enabled) process.stderr.write(`\r${this.line(done, Date.now())}\x1b[K\n`);
  }

  private line(done: number, now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = (done - this.start) / seconds;
    const total = this.total;
    if (total === null || total === 0) return `${this.label} ${done} rows, ${rate.toFixed(0)}/s`;
    const share = Math.min(done / total, 1);
    const bar = "#".repeat(Math.round(share * 30)).padEnd(30, ".");
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
    return `${this.label} [${bar}] ${done}/${total} ${(share * 100).toFixed(0)}% ${rate.toFixed(0)}/s ETA ${formatEta(eta)}`;
  }
}

function formatEta(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
