/**
 * ForkingTCPServer: N worker processes (node:cluster) share one listening port, so a CPU-heavy
 * handler uses every core. The same jobs run first on a plain TCPServer (one process, one core),
 * then on the forking one; each reply names the pid that computed it.
 * As with fork(2), this file runs again in each worker: there `server.isWorker` is true and the
 * worker just serves.
 * Run: lab examples run forking-server
 */
import os from "node:os";
import { connect, ForkingTCPServer, StreamRequestHandler, TCPServer } from "@netlab/socketserver";

const JOBS = 8;
const LIMIT = 400_000;

/** CPU-bound on purpose: counts primes below `limit` by trial division. */
function countPrimes(limit: number): number {
  let count = 0;
  for (let n = 2; n < limit; n++) {
    let isPrime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        isPrime = false;
        break;
      }
    }
    if (isPrime) count++;
  }
  return count;
}

/** Each line is a limit; the reply is `COUNT PID`. */
class Primes extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile)
      await this.wfile.write(`${countPrimes(Number(line))} ${process.pid}\n`);
  }
}

const forking = new ForkingTCPServer({ port: 0 }, Primes);
forking.workers = 2;

if (forking.isWorker) {
  await forking.serveForever();
} else {
  /** Runs JOBS requests at once, one per connection; returns wall ms and the pids that answered. */
  async function runJobs(port: number): Promise<{ ms: number; pids: Set<string>; counts: Set<string> }> {
    const start = performance.now();
    const replies = await Promise.all(
      Array.from({ length: JOBS }, async () => {
        const socket = await connect({ port });
        socket.setEncoding("utf8");
        let text = "";
        socket.on("data", (d: string) => {
          text += d;
        });
        const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
        socket.end(`${LIMIT}\n`);
        await closed;
        return text.trim().split(" ");
      }),
    );
    return {
      ms: performance.now() - start,
      pids: new Set(replies.map((r) => r[1] ?? "?")),
      counts: new Set(replies.map((r) => r[0] ?? "?")),
    };
  }

  const single = new TCPServer({ port: 0 }, Primes);
  await single.listen();
  const servingSingle = single.serveForever();
  const one = await runJobs(single.address.port);
  await single.shutdown();
  await servingSingle;

  await forking.listen();
  const servingForked = forking.serveForever();
  const many = await runJobs(forking.address.port);
  await forking.shutdown();
  await servingForked;

  console.log(
    `each job: primes below ${LIMIT} = ${[...new Set([...one.counts, ...many.counts])].join(", ")}`,
  );
  console.log(
    `single process: ${JOBS} jobs in ${one.ms.toFixed(0)} ms on ${one.pids.size} pid (this process: ${one.pids.has(String(process.pid)) ? "yes" : "no"})`,
  );
  console.log(
    `forking, 2 workers: ${JOBS} jobs in ${many.ms.toFixed(0)} ms on ${many.pids.size} distinct worker pids (this process: ${many.pids.has(String(process.pid)) ? "yes" : "no"})`,
  );
  console.log(
    `speed-up: ${(one.ms / many.ms).toFixed(2)}× with ${os.availableParallelism()} cores (noisy when other programs use them)`,
  );
}
