import { it } from "vitest";
import { formatHuman } from "../src/index.js";
import { fixture, grade } from "./helpers.js";

it("scratch", async () => {
  const [profile, script, ...rest] = (process.env.SCRATCH ?? "").split(" ");
  const r = await grade(profile as string, ["python3", fixture(script as string), "{port}", ...rest], 1, process.env.ONLY?.split(","));
  console.log(formatHuman(r));
}, 120_000);
