/**
 * Interrupting a worker thread with a shared flag: the main thread sets an Int32 in a
 * SharedArrayBuffer, the worker checks it with Atomics.load between units of work and stops
 * cleanly. (Worker.terminate() also stops it, but mid-work, with no chance to clean up.)
 * Run: lab examples run interrupt-flag
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const RUNNING = 0;
const STOP = 1;

if (isMainThread) {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  // The same file runs as the worker: the `else` branch below.
  const worker = new Worker(new URL(import.meta.url), { workerData: flag.buffer });
  worker.on("message", (m: { units: number } | "ready") => {
    if (m === "ready") {
      console.log("main: worker is busy; setting the stop flag");
      Atomics.store(flag, 0, STOP);
      Atomics.notify(flag, 0); // wakes it if it sleeps on the flag
    } else {
      console.log(`main: worker stopped cleanly after ${m.units} units of work`);
    }
  });
  const code = await new Promise<number>((resolve) => worker.once("exit", resolve));
  console.log(`main: worker exited with code ${code}`);
} else {
  const flag = new Int32Array(workerData as SharedArrayBuffer);
  let units = 0;
  // Check the flag between units: never stop half-way through one.
  while (Atomics.load(flag, 0) === RUNNING) {
    units++;
    if (units === 5) parentPort!.postMessage("ready");
    Atomics.wait(flag, 0, RUNNING, 1); // one unit of "work": sleep 1 ms, or less if told to stop
  }
  console.log("worker: saw the stop flag, finishing the current unit and cleaning up");
  parentPort!.postMessage({ units });
}
