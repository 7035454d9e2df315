/**
 * How often the live pages rendered, for the browser tests that check a busy stream does not
 * re-render the whole list per event (`window.__reqtrackRenders`). Counting is a few integer
 * additions per render: cheap enough to keep in every build.
 */
export const renders = { requestsPage: 0, requestRows: 0 };

(globalThis as unknown as { __reqtrackRenders: typeof renders }).__reqtrackRenders = renders;
