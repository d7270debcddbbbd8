/**
 * Daemon versus non-daemon workers. The main program ends right after starting two workers:
 * the non-daemon worker is waited for (the process exits only when it finishes), the daemon
 * worker is not (it is killed mid-work when the process exits), as in Python's threading.
 * Run: lab examples run daemon
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { startWorker } from "@netlab/concurrency";

if (isMainThread) {
  const self = new URL(import.meta.url);
  // The daemon would run for 10 s; the non-daemon for 5 short steps.
  startWorker(self, { daemon: true, workerData: { name: "daemon", steps: 1000 } });
  const regular = startWorker(self, { workerData: { name: "non-daemon", steps: 5 } });
  regular.worker.on("message", (line: string) => console.log(line));
  process.on("exit", () => {
    console.log("main: process exits; the daemon worker dies with it");
  });
  console.log("main: started both workers; main program done");
} else {
  const { name, steps } = workerData as { name: string; steps: number };
  for (let i = 1; i <= steps; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Only the non-daemon reports, so the output does not depend on how far the daemon got.
    if (name === "non-daemon") parentPort!.postMessage(`${name}: step ${i} of ${steps}`);
  }
  if (name === "non-daemon") parentPort!.postMessage(`${name}: finished`);
}
