/**
 * Every fixture server and the tests that must fail on it — no more, no fewer. A broken fixture
 * has one bug, so it is caught only by the tests named for that bug; a good one passes all. The
 * seed servers are the tutorial's, graded in docs/check.md.
 */
export interface FixtureRow {
  /** The bug's name (the fixture's BUG argument), or what the fixture is. */
  name: string;
  profile: string;
  /** The fixture's command after `python3 FIXTURE`, with `{port}`, `{file}`, `{dir}`. */
  argv: string[];
  caughtBy: string[];
}

export const BROKEN: FixtureRow[] = [
  {
    name: "no-line-buffering",
    profile: "line",
    argv: ["line_server.py", "{port}", "no-line-buffering"],
    caughtBy: ["line.long-line", "line.partial-line"],
  },
  {
    name: "one-at-a-time",
    profile: "line",
    argv: ["line_server.py", "{port}", "one-at-a-time"],
    caughtBy: ["line.clients-50"],
  },
  {
    name: "crash-on-long-line",
    profile: "line",
    argv: ["line_server.py", "{port}", "crash-on-long-line"],
    caughtBy: ["line.long-line"],
  },
  {
    name: "mangle-bytes",
    profile: "echo",
    argv: ["echo_server.py", "{port}", "mangle-bytes"],
    caughtBy: ["echo.all-bytes"],
  },
  {
    name: "destroy-on-half-close",
    profile: "echo",
    argv: ["echo_server.py", "{port}", "destroy-on-half-close"],
    caughtBy: ["echo.half-close"],
  },
  {
    name: "goodbye-after-echo",
    profile: "echo",
    argv: ["echo_server.py", "{port}", "goodbye-after-echo"],
    caughtBy: ["echo.half-close"],
  },
  {
    name: "unbounded-buffering",
    profile: "echo",
    argv: ["echo_server.py", "{port}", "unbounded-buffering"],
    caughtBy: ["echo.slow-reader-bounded"],
  },
  {
    name: "echo-to-sender",
    profile: "chat",
    argv: ["budget_chat.py", "{port}", "echo-to-sender"],
    caughtBy: ["chat.not-to-sender"],
  },
  {
    name: "duplicate-leave",
    profile: "chat",
    argv: ["budget_chat.py", "{port}", "duplicate-leave"],
    caughtBy: ["chat.join-leave-once"],
  },
  {
    name: "empty-names",
    profile: "chat",
    argv: ["budget_chat.py", "{port}", "empty-names"],
    caughtBy: ["chat.name-empty"],
  },
  {
    name: "ignores-crlf",
    profile: "chat",
    argv: ["budget_chat.py", "{port}", "ignores-crlf"],
    caughtBy: ["chat.crlf"],
  },
  {
    name: "closes-before-flushing",
    profile: "transfer",
    argv: ["file_sender.py", "{port}", "{file}", "closes-before-flushing"],
    caughtBy: ["transfer.exact-bytes", "transfer.slow-reader"],
  },
  {
    name: "one-request-per-connection",
    profile: "http",
    argv: ["http_server.py", "{port}", "{dir}", "one-request-per-connection"],
    caughtBy: ["http.keep-alive"],
  },
];

export const GOOD: FixtureRow[] = [
  { name: "echo_server.py", profile: "echo", argv: ["echo_server.py", "{port}"], caughtBy: [] },
  { name: "line_server.py", profile: "line", argv: ["line_server.py", "{port}"], caughtBy: [] },
  { name: "budget_chat.py", profile: "chat", argv: ["budget_chat.py", "{port}"], caughtBy: [] },
  { name: "file_sender.py", profile: "transfer", argv: ["file_sender.py", "{port}", "{file}"], caughtBy: [] },
  { name: "http_server.py", profile: "http", argv: ["http_server.py", "{port}", "{dir}"], caughtBy: [] },
];

/** The seed tutorial's servers and what they fail (docs/check.md explains each). */
export const SEEDS: FixtureRow[] = [
  {
    name: "seed_upper.py",
    profile: "line",
    argv: ["seed_upper.py", "{port}"],
    caughtBy: ["line.clients-50"],
  },
  {
    name: "seed_echo.py",
    profile: "echo",
    argv: ["seed_echo.py", "{port}"],
    caughtBy: ["echo.concurrent-5", "echo.concurrent-50", "echo.slow-reader-isolation"],
  },
  {
    name: "seed_chat.py",
    profile: "chat",
    argv: ["seed_chat.py", "{port}"],
    caughtBy: ["chat.name-duplicate", "chat.name-empty", "chat.name-too-long", "chat.slow-reader"],
  },
  { name: "seed_sender.py", profile: "transfer", argv: ["seed_sender.py", "{port}", "{file}"], caughtBy: [] },
];
