/** One runnable example: `node examples/dist/<name>.js`, or `lab examples run <name>`. */
export interface ExampleInfo {
  /** File name without extension, kebab-case: `examples/src/<name>.ts`. */
  name: string;
  /** One line: what it shows. */
  summary: string;
  /** The idea it teaches, used to group the list (e.g. "sockets", "socketserver", "concurrency", "generics"). */
  topic: string;
  /** The arguments it takes, as its usage line shows them (`[seed]`); without it, it takes none. */
  args?: string;
}

/** Every example, in the order `lab examples` lists them. */
export const examples: ExampleInfo[] = [
  {
    name: "udp-pinger",
    topic: "sockets",
    summary: "ping a lossy, slow UDP echo server in one process: timeouts, RTTs, a ping-style summary",
  },
  { name: "echo-server", topic: "socketserver", summary: "TCPServer + EchoHandler: each line comes back" },
  {
    name: "upper-server",
    topic: "socketserver",
    summary: "your own StreamRequestHandler: upper-cased lines, two clients at once",
  },
  {
    name: "file-sender",
    topic: "socketserver",
    summary: "stream a file with await wfile.write(): backpressure, then SHA-256 checked",
  },
  {
    name: "udp-echo",
    topic: "socketserver",
    summary: "UDPServer + DatagramRequestHandler: datagrams come back",
  },
  {
    name: "forking-server",
    topic: "socketserver",
    summary: "ForkingTCPServer: a CPU-heavy handler on two worker processes sharing a port",
  },
  {
    name: "chat-client",
    topic: "chat",
    summary: "ChatServer + two ChatClients: join, talk, whisper, leave; each transcript printed",
  },
  {
    name: "file-transfer",
    topic: "transfer",
    summary: "FileServer + TransferClient: upload, list, download a 3 MiB file, SHA-256 checked",
  },
  {
    name: "generics",
    topic: "generics",
    summary: "reverse<T>() and Box<T>: one piece of code, many checked types",
  },
  { name: "interrupt-signal", topic: "concurrency", summary: "interrupt an async task with an AbortSignal" },
  {
    name: "interrupt-flag",
    topic: "concurrency",
    summary: "interrupt a worker thread with a shared stop flag",
  },
  {
    name: "deadlock",
    topic: "concurrency",
    summary: "a deadlock named by debug mode, and its cure: lock ordering",
  },
  { name: "event", topic: "concurrency", summary: "Event as a traffic light: cars wait for green" },
  { name: "condition", topic: "concurrency", summary: "Condition: producer/consumer over a bounded buffer" },
  {
    name: "shared-counter",
    topic: "concurrency",
    summary: "worker_threads counter: updates lost without a lock, exact with SharedMutex",
    args: "[workers 1-64] [increments ≥ 1]",
  },
  {
    name: "semaphore",
    topic: "concurrency",
    summary: "Semaphore(3): ten downloads, at most three at a time",
  },
  {
    name: "daemon",
    topic: "concurrency",
    summary: "daemon workers die with the process, non-daemon ones are waited for",
  },
  {
    name: "priority-queue",
    topic: "concurrency",
    summary: "PriorityQueue producer/consumer: urgent jobs overtake",
    args: "[seed]",
  },
];
