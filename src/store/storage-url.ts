/**
 * True for a `postgres://` or `postgresql://` connection string (a storage that is no file).
 * Its own module, so that checking a storage string loads no driver.
 */
export function isPostgresUrl(storage: string): boolean {
  return /^postgres(ql)?:\/\//i.test(storage);
}
