import { describe, expect, it } from "vitest";
import { currentTask, isDebug, setDebug, task } from "../src/index.js";

describe("tasks", () => {
  it('code outside any task runs as "main"', () => {
    expect(currentTask().name).toBe("main");
  });

  it("a task keeps its identity across awaits and timers, and each task() is a new one", async () => {
    const seen = await task("worker", async () => {
      const before = currentTask();
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { before, after: currentTask() };
    });
    expect(seen.before.name).toBe("worker");
    expect(seen.after).toBe(seen.before);
    const other = task("worker", () => currentTask());
    expect(other.id).not.toBe(seen.before.id);
  });

  it("debug mode is off by default and can be switched", () => {
    expect(isDebug()).toBe(false);
    setDebug(true);
    expect(isDebug()).toBe(true);
    setDebug(false);
    expect(isDebug()).toBe(false);
  });
});
