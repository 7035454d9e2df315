import { describe, expect, it } from "vitest";
import { committedClients, differences, renderClients } from "../../scripts/clients/generate.js";

describe("the committed Python and Go clients", () => {
  it("are what `npm run clients` makes from the current OpenAPI document", async () => {
    const generated = await renderClients();
    expect(generated.size).toBeGreaterThan(0);
    // A route or schema change without `npm run clients` fails here, naming the files.
    expect(differences(generated, committedClients())).toEqual([]);
  }, 120_000); // quicktype on ~100 models: seconds, more on a loaded machine

  it("names a file that drifted, went missing or is left over", () => {
    const a = new Map([
      ["x/same.py", "1"],
      ["x/changed.py", "1"],
      ["x/gone.py", "1"],
    ]);
    const b = new Map([
      ["x/same.py", "1"],
      ["x/changed.py", "2"],
      ["x/extra.py", "1"],
    ]);
    expect(differences(a, b)).toEqual(["x/changed.py", "x/extra.py", "x/gone.py"]);
  });
});
