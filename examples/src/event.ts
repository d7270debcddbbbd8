/**
 * Event, the traffic-light signal: cars wait() at a red light; the light set()s the event for
 * green (every waiting car goes, and cars arriving on green drive straight through) and clear()s
 * it for red.
 * Run: lab examples run event
 */
import { Event } from "@netlab/concurrency";

const green = new Event();
const log = (line: string) => console.log(line);

/** A car arrives, waits for green (at most 5 s), then drives through. */
async function car(name: string): Promise<void> {
  if (!green.isSet()) log(`${name}: red light, waiting`);
  await green.wait({ timeout: 5_000 });
  log(`${name}: drives through`);
}

/** Lets the event loop run the cars that just woke up, so the log reads in order. */
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 10));

log("light: RED");
const first = [car("car 1"), car("car 2")];
await tick();

log("light: GREEN");
green.set();
await Promise.all(first);
await car("car 3"); // arrives on green: no wait

log("light: RED");
green.clear();
const late = car("car 4");
await tick();

log("light: GREEN");
green.set();
await late;
log("all cars through");
