import { readFileSync } from "node:fs";

// The rest of the whole for doc blocks that are fragments of one (`<!-- prelude: NAME -->` above
// the fence; see docs.test.ts). A prelude supplies only what the reader brings: their own names,
// data and files. Each one runs the fragment for real and, where it prints, against the doc's
// shown output.

/** What a prelude adds around a block. */
export interface Prelude {
  /** TypeScript placed before the block (imports may come after code: ES modules hoist them). */
  before?: string;
  /** TypeScript placed after the block: uses what it defined, so it really runs. */
  after?: string;
  /** Shell commands run first in the block's folder (files the block names). */
  sh?: string;
  /** Extra modules, bundled next to the block under these names (a worker's file). */
  files?: Record<string, string>;
  /** The block shows several files, each after a `// NAME.ts` line; `main.ts` is the program. */
  modules?: boolean;
  /** The `// …` lines that end the block are what it prints (then the prelude prints it). */
  shownInComment?: boolean;
}

/** docs/proxy.md's rtt.mjs, as the doc shows it (the block after the one that runs it). */
const RTT = (() => {
  const doc = readFileSync(new URL("../../docs/proxy.md", import.meta.url), "utf8");
  return doc.split("with `rtt.mjs`:\n\n```js\n")[1]!.split("```")[0]!;
})();

/** docs/socketserver.md's Python client of the Unix datagram server, as the doc writes it. */
const UNIX_CLIENT = (() => {
  const doc = readFileSync(new URL("../../docs/socketserver.md", import.meta.url), "utf8");
  const [, code, reply] = /A Python client: `([^`]+)` gets `([^`]+)`/.exec(doc.replace(/\n/g, " "))!;
  return { code: code!.replace(/; /g, "\n"), reply: reply! };
})();

/** The reader's HTTP server for docs/url.md's `lab get` examples: the routes they name. */
const ROUTES = `import { createServer } from "node:http";
const big = Buffer.alloc(16 * 1024 * 1024, 7);
createServer((req, res) => {
  const body = [];
  req.on("data", (c) => body.push(c)).on("end", () => {
    const text = Buffer.concat(body).toString();
    if (req.url === "/hello") { res.setHeader("x-test", "yes"); res.end("hello\\n"); }
    else if (req.url === "/install.sh") res.writeHead(302, { location: "/get/install.sh" }).end();
    else if (req.url === "/get/install.sh") res.end("touch installed\\n");
    else if (req.url === "/api" && req.method === "POST" && text === '{"a":1}') res.writeHead(204).end();
    else if (req.url === "/form" && req.method === "POST" && text.includes('filename="me.png"')) res.writeHead(204).end();
    else if (req.url === "/big.iso") res.end(big);
    else res.writeHead(404).end("no such page\\n");
  });
}).listen(8000, "127.0.0.1", () => console.log("listening on 127.0.0.1:8000"));
process.on("SIGINT", () => process.exit(0)); // a server: Ctrl-C ends it cleanly
`;

/** docs/demo.md's lesson.txt, as its `$ cat lesson.txt` shows it. */
const LESSON = (() => {
  const doc = readFileSync(new URL("../../docs/demo.md", import.meta.url), "utf8");
  return doc.split("$ cat lesson.txt\n")[1]!.split("$ ")[0]!;
})();

/** An echo server on a free port, and a client of it: for fragments whose names are clients. */
const LINE_SERVER = `
import { createInterface as __lines } from "node:readline";
import type { Socket } from "node:net";
import { connect, EchoHandler, TCPServer } from "@netlab/socketserver";
const echo = new TCPServer({ host: "127.0.0.1", port: 0 }, EchoHandler);
await echo.listen();
const echoing = echo.serveForever();
/** The reader's client: connects to the echo server, sends a line, reads the line back. */
class Client {
  socket?: Socket;
  #lines?: AsyncIterator<string>;
  replies: string[] = [];
  async connect(): Promise<void> {
    this.socket = await connect({ port: echo.address.port, timeoutMs: 5000 });
    this.#lines = __lines({ input: this.socket })[Symbol.asyncIterator]();
  }
  async send(text: string): Promise<void> {
    this.socket!.write(\`\${text}\\n\`);
    this.replies.push((await this.#lines!.next()).value);
  }
}
`;

/** Throws unless the condition holds: a prelude's check that the fragment did what it says. */
const CHECK = `
function check(ok: unknown, what: string): void {
  if (!ok) throw new Error(\`the fragment did not do what the doc says: \${what}\`);
}
`;

export const PRELUDES: Record<string, Prelude> = {
  // docs/transfer.md: the files the commands name: a.bin, b.bin and movie.mkv here, big.iso on the server.
  "big-files": {
    sh: "head -c 300000 /dev/urandom > a.bin; head -c 200000 /dev/urandom > b.bin; head -c 3000000 /dev/urandom > movie.mkv; mkdir -p shared; head -c 4000000 /dev/urandom > shared/big.iso",
  },
  // docs/transfer.md: the served folder and the file of "Try it" above.
  "shared-folder": { sh: "mkdir -p shared; echo hello > test.txt" },
  // docs/watch.md: the token file the server requires (alice's token), readable by its owner only.
  "replay-token": { sh: "printf 'alice:s3cret-token\\n' > tokens.txt; chmod 600 tokens.txt" },
  // docs/tls.md: the folder and the report the example serves and sends.
  "report-pdf": { sh: "mkdir -p shared; head -c 50000 /dev/urandom > report.pdf" },
  // docs/url.md: the HTTP server of the lab get examples (started by run-with), and me.png.
  "http-routes": { sh: `cat > routes.mjs <<'EOF'\n${ROUTES}EOF\nhead -c 2000 /dev/urandom > me.png` },
  // docs/demo.md: the lesson the reader wrote.
  "demo-lesson": { sh: `cat > lesson.txt <<'EOF'\n${LESSON}EOF` },
  // docs/proxy.md: rtt.mjs as the doc shows it.
  rtt: { sh: `cat > rtt.mjs <<'EOF'\n${RTT}EOF` },
  // docs/cluster.md: the reader's program goes on; here it ends once connected.
  "close-client": { after: "await client.close();" },
  // docs/check.md: the reader's servers are the tutorial's own, from test/fixtures/check.
  "check-programs": {
    sh: 'cp "$DOCS_ROOT/test/fixtures/check/echo_server.py" .; cp "$DOCS_ROOT/test/fixtures/check/budget_chat.py" chat.py',
  },
  "check-submissions": {
    sh: 'mkdir -p reports submissions/ann submissions/bob; for s in ann bob; do cp "$DOCS_ROOT/test/fixtures/check/budget_chat.py" submissions/$s/chat_server.py; done',
  },
  "check-client": { sh: 'cp "$DOCS_ROOT/test/fixtures/check/line_client.py" client.py' },

  // docs/socketserver.md: the reader's client, "from elsewhere": it waits for the server, sends two
  // lines, checks the replies, then shuts the server down (the block's comment says how).
  "upper-client": {
    before: `${CHECK}
import { connect as dial } from "@netlab/socketserver";
import { createInterface } from "node:readline";
void (async () => {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const socket = await dial({ port: 9000, timeoutMs: 5000 });
      const lines = createInterface({ input: socket })[Symbol.asyncIterator]();
      socket.write("hello\\nsocket server\\n");
      const got = [(await lines.next()).value, (await lines.next()).value];
      check(got.join("|") === "HELLO|SOCKET SERVER", \`upper-cased lines (got \${got.join("|")})\`);
      socket.destroy();
      await server.shutdown();
      return;
    } catch (err) {
      // The server is not listening yet: try again, for a while.
      if ((err as { code?: string }).code !== "CONNECTION_REFUSED" || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
})();`,
  },
  // docs/socketserver.md: the imports, and the doc's Python client, once the socket is there;
  // then the server is shut down.
  "unix-upper": {
    before: `${CHECK}
import { execFile } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { DatagramRequestHandler, UnixDatagramServer } from "@netlab/socketserver";
void (async () => {
  const deadline = Date.now() + 10_000;
  while (!existsSync("/tmp/upper.sock")) {
    check(Date.now() < deadline, "the server bound /tmp/upper.sock within 10 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  const python = ${JSON.stringify(`from socket import *\nimport socket\n${UNIX_CLIENT.code.replace("s.recv(65536)", "print(s.recv(65536))")}\n`)};
  // The client's socket file stays behind (the doc's client does not remove it): without a
  // private /tmp, a run after this one would find it bound.
  rmSync("/tmp/me.sock", { force: true });
  const got = await new Promise<string>((resolve, reject) =>
    execFile("python3", ["-c", python], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
  );
  rmSync("/tmp/me.sock", { force: true });
  check(got.replace(/'/g, '"') === ${JSON.stringify(UNIX_CLIENT.reply)}, \`the reply (\${got})\`);
  await server.shutdown();
})();`,
  },

  // docs/transfer.md: the reader's log and progress bar, and the file they upload.
  "transfer-library": {
    sh: "mkdir -p ts/shared; head -c 3000000 /dev/urandom > ts/big.iso",
    before: `${CHECK}
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
const logged: string[] = [];
const log = (line: string) => logged.push(line);
let drawn = 0;
const draw = (done: number, total: number) => { drawn = done / total; };`,
    after: `const sha = createHash("sha256").update(readFileSync("big.iso")).digest("hex");
check(r.sha256 === sha && r.offset === 0 && r.mbps > 0, "the upload's result");
check(readFileSync("shared/big.iso").equals(readFileSync("big.iso")), "the file arrived");
check(drawn === 1, "progress reached the end");
await new Promise((resolve) => setImmediate(resolve));
check(logged.join() === \`put big.iso \${sha}\`, \`the server logged the transfer (\${logged.join()})\`);`,
  },
  // docs/udp.md: show() keeps what it is shown.
  "udp-library": {
    before: `${CHECK}
const shown: unknown[][] = [];
const show = (...what: unknown[]) => shown.push(what);`,
    after: `await pinger.run();
const replies = shown.filter(([e]) => (e as { type?: string }).type === "reply").length;
check(summary.transmitted === 10 && summary.received === replies, \`the summary (\${JSON.stringify(summary)})\`);
check(shown.some(([, , fate]) => fate !== undefined), "the server showed each datagram's fate");`,
  },
  // docs/url.md: an HTTP server with the two URLs, and out, where the body goes. console.log is
  // watched: the comments under each call say what it prints.
  "urlopen-errors": {
    before: `${CHECK}
import { createServer } from "node:http";
import { Writable } from "node:stream";
import { HTTPError, URLError, urlopen } from "@netlab/url";
const web = createServer((req, res) => {
  if (req.url === "/big") res.end(Buffer.alloc(1_000_000, "x"));
  else { res.statusCode = 404; res.end("no such page"); }
});
await new Promise<void>((r) => web.listen(8000, "127.0.0.1", () => r()));
let received = 0;
const out = new Writable({ write(chunk, _encoding, done) { received += chunk.length; done(); } });
const printed: unknown[][] = [];
const print = console.log;
console.log = (...args: unknown[]) => { printed.push(args); print(...args); };`,
    after: `check(received === 1_000_000, "the body was streamed to out");
check(JSON.stringify(printed) === JSON.stringify([["HTTP Error 404: Not Found", 404, "Not Found", "no such page"]]), \`what the comment shows (\${JSON.stringify(printed)})\`);
web.close();`,
  },

  // docs/concurrency/README.md: a lock someone else holds, and a shutdown that aborts the wait.
  "abort-wait": {
    before: `${CHECK}
import { Mutex } from "@netlab/concurrency";
const mutex = new Mutex();
const held = await mutex.acquire();
const shutdown = new AbortController();
const signal = shutdown.signal;
let gaveUp = true;
async function waitForLock(): Promise<void> {`,
    after: `  gaveUp = false;
}
const waiting = waitForLock();
shutdown.abort(new Error("shutting down"));
await waiting;
check(gaveUp && mutex.waiting === 0, "an aborted wait returns (ABORTED) and leaves the queue");
held();`,
  },
  // docs/concurrency/barrier.md: the clients are three connections to an echo server.
  "barrier-clients": {
    before: `${LINE_SERVER}${CHECK}
const clients = [new Client(), new Client(), new Client()];`,
    after: `check(clients.every((c) => c.replies[0] === "go"), "each client sent go");
for (const c of clients) c.socket!.destroy();
await echo.shutdown();
await echoing;`,
  },
  // docs/concurrency/condition.md: a consumer waits for the producer's items.
  "condition-buffer": {
    before: CHECK,
    after: `const got = Promise.all([consume(), consume()]);
await produce(1);
await produce(2);
check((await got).join() === "1,2", "consumers get the items in order");`,
  },
  // docs/concurrency/deadlock.md: two accounts, and transfers both ways at once.
  "bank-accounts": {
    before: `${CHECK}
import { Mutex } from "@netlab/concurrency";
interface Account { lock: Mutex; balance: number }
const a: Account = { lock: new Mutex({ name: "account A" }), balance: 100 };
const b: Account = { lock: new Mutex({ name: "account B" }), balance: 100 };
function move(amount: number, from: Account, to: Account): void {
  from.balance -= amount;
  to.balance += amount;
}
async function send(amount: number, from: Account, to: Account): Promise<void> {`,
    after: `}
await Promise.all([send(10, a, b), send(30, b, a), send(5, a, b)]);
check(a.balance === 115 && b.balance === 85, "every transfer happened once");`,
  },
  // docs/concurrency/deadlock.md: transfer takes its two locks one after the other, with a
  // timeout of 200 ms, doing some work (one turn of the event loop) in between.
  "deadlock-transfer": {
    before: `import { ConcurrencyError, Mutex } from "@netlab/concurrency";
import { setImmediate as work } from "node:timers/promises";
const a = { lock: new Mutex({ name: "account A" }) };
const b = { lock: new Mutex({ name: "account B" }) };
async function transfer(from: typeof a, to: typeof a): Promise<void> {
  using _from = await from.lock.acquire({ timeout: 200 });
  await work();
  using _to = await to.lock.acquire({ timeout: 200 });
}
try {`,
    after: `} catch (err) {
  if (!(err instanceof ConcurrencyError)) throw err;
  console.log(\`\${err.name} \${err.code}: \${err.message}\`);
}`,
    shownInComment: true,
  },
  // docs/concurrency/mutex.md: audit is slow (it awaits); ten deposits run at once.
  "mutex-deposit": {
    before: `${CHECK}
import { setImmediate as audit } from "node:timers/promises";`,
    after: `await Promise.all(Array.from({ length: 10 }, () => deposit(1)));
check(balance === 10, "no deposit is lost");`,
  },
  // docs/concurrency/mutex.md: the mutex of the block above, and a block around the using.
  "mutex-using": {
    before: `${CHECK}
import { Mutex } from "@netlab/concurrency";
const mutex = new Mutex();
{`,
    after: `  check(mutex.isLocked, "held inside the block");
}
check(!mutex.isLocked, "released when the block ends");`,
  },
  // docs/concurrency/rlock.md: a small tree.
  "rlock-tree": {
    before: `${CHECK}
interface Node { name: string; children: Node[] }
const tree: Node = { name: "root", children: [{ name: "a", children: [{ name: "a1", children: [] }] }, { name: "b", children: [] }] };`,
    after: `await Promise.all([visit(tree), visit(tree)]);
check(!lock.isLocked, "every visit released the lock");`,
  },
  // docs/concurrency/rlock.md: work takes the lock twice (as nested code would), with a timeout.
  "rlock-tasks": {
    before: `${CHECK}
import { RLock, currentTask } from "@netlab/concurrency";
const lock = new RLock({ name: "tree" });
const order: string[] = [];
async function work(l: RLock): Promise<void> {
  using _outer = await l.acquire({ timeout: 2000 });
  order.push(currentTask().name);
  await new Promise((r) => setImmediate(r));
  using _inner = await l.acquire({ timeout: 2000 });
}`,
    after: `check(order.join() === "alice,bob", "alice and bob are two owners, one after the other");`,
  },
  // docs/concurrency/semaphore.md: urls on a local HTTP server that counts requests in flight.
  downloads: {
    before: `${CHECK}
import { createServer } from "node:http";
import { urlopen } from "@netlab/url";
let inFlight = 0;
let most = 0;
const web = createServer((_req, res) => {
  most = Math.max(most, ++inFlight);
  setImmediate(() => { inFlight--; res.end("file"); });
});
await new Promise<void>((r) => web.listen(0, "127.0.0.1", () => r()));
const port = (web.address() as { port: number }).port;
const urls = Array.from({ length: 8 }, (_, i) => \`http://127.0.0.1:\${port}/file\${i}\`);
const got: string[] = [];
async function download(url: string): Promise<void> {
  const res = await urlopen(url, { timeoutMs: 5000 });
  got.push(await res.text());
}`,
    after: `check(got.length === 8 && most <= 3, \`8 downloads, at most 3 at a time (saw \${most})\`);
web.close();`,
  },
  // docs/concurrency/semaphore.md: the connection handler of a TCP server; five clients, three slots.
  "refuse-connections": {
    before: `${CHECK}
import { createServer, connect as dial, type Socket } from "node:net";
import { Semaphore } from "@netlab/concurrency";
const slots = new Semaphore(3);
let refused = 0;
let served = 0;
let letIn = () => {};
const allIn = new Promise<void>((r) => { letIn = r; });
function refuse(socket: Socket): void {
  refused++;
  socket.end("busy\\n");
}
async function serve(socket: Socket): Promise<void> {
  served++;
  await allIn;
  socket.end("hello\\n");
}
async function onConnection(socket: Socket): Promise<void> {`,
    after: `}
const tcp = createServer((s) => void onConnection(s));
await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", () => r()));
const port = (tcp.address() as { port: number }).port;
const replies = Array.from({ length: 5 }, () => new Promise<string>((resolve, reject) => {
  let text = "";
  const s = dial(port, "127.0.0.1").setEncoding("utf8").on("data", (d) => { text += d; }).on("error", reject).on("close", () => resolve(text));
  s.setTimeout(5000, () => s.destroy(new Error("no answer")));
}));
for (;;) { if (served + refused === 5) break; await new Promise((r) => setImmediate(r)); }
letIn();
const texts = (await Promise.all(replies)).sort();
check(texts.join("") === "busy\\nbusy\\nhello\\nhello\\nhello\\n", "three served, two refused at once");
check(slots.value === 3, "every permit came back");
tcp.close();`,
  },
  // docs/concurrency/shared.md: main.ts goes on to wait for the worker and read the counter.
  "shared-counter": {
    modules: true,
    after: `${CHECK}
import { once } from "node:events";
await once(worker, "exit");
check(counter[0] === 100_000, \`no update lost (\${counter[0]})\`);`,
  },
  // docs/concurrency/workers.md: the two workers' files, and the file resize.js is given.
  "start-workers": {
    before: `const file = "photo.jpg";`,
    after: `${CHECK}
check(code === 0, "the non-daemon worker ended with 0");
check(logger.isAlive(), "the daemon worker still runs: it does not keep the process alive");`,
    files: {
      "flush-logs.js": "setInterval(() => {}, 1000); // flushes logs forever",
      "resize.js": `import { workerData } from "node:worker_threads";
if (workerData !== "photo.jpg") process.exit(1);`,
    },
  },
  // docs/concurrency/workers.md: main.ts checks the digest and ends.
  "hash-pool": {
    modules: true,
    after: `${CHECK}
import { createHash as __sha } from "node:crypto";
check(digest === __sha("sha256").update("hello").digest("hex"), "the pool hashed hello");`,
  },
};
