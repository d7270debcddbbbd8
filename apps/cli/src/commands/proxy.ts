import { plural } from "@netlab/core/units";
import type { Command } from "commander";
import { exposureWarning } from "../address.js";
import { addLogOptions, createLogger, type Logger, type LogOpts, seconds } from "../log.js";
import { parseByteSize, parseDuration, parseMicroseconds, parseNumber, replyLimitText } from "../options.js";
import { action, UsageError } from "../run.js";
import { onInterrupt } from "../signals.js";
import { REPLY_LIMIT_TEXT, replyLimits } from "./udp-shared.js";

/** The toxic types, for --help without importing @netlab/proxy (kept equal to its TOXIC_KINDS). */
const TOXIC_HELP = `
Toxics (--toxic TYPE=VALUE[,KEY=VALUE]...; VALUE sets the first attribute; toxiproxy's names and units):
  latency=MS[,jitter=MS]                 delay each chunk
  bandwidth=KBPS[,shared=true]           limit the rate, KB/s (1 KB = 1000 B); shared: one rate for all
  slow_close=MS                          delay the FIN
  timeout=MS                             hold all data; close after MS (0: until the toxic is removed)
  reset_peer=MS                          reset (RST) the connection after MS
  slicer=BYTES[,size_variation=B,delay=US]  slice data into small writes
  limit_data=BYTES                       pass BYTES, then close
  limit_time=MS                          close MS after the connection opened
  corrupt=P                              flip a bit in each byte with chance P
  blackhole=BYTES[,time=MS]              after BYTES (and MS), drop everything silently
  line_latency=MS[,jitter=MS]            delay each whole line
  line_split[=US]                        write each line on its own
Every toxic also takes stream=upstream|downstream|both (default downstream: server → client),
toxicity=0..1 (chance a connection is affected, drawn from --seed), name=NAME,
client=HOST[:PORT] and connection=ID (act on one client or connection only).`;

/** `lab proxy LISTEN UPSTREAM`: a TCP (or UDP) proxy that breaks the network on purpose. */
export function registerProxy(program: Command): void {
  const cmd = program
    .command("proxy")
    .description(
      "a proxy that breaks the network on purpose: latency, slicing, resets, … (toxiproxy-compatible)",
    )
    .argument("<listen>", "where to listen, HOST:PORT or :PORT (port 0: any free port)")
    .argument("<upstream>", "the server to forward to, HOST:PORT")
    .option("--toxic <spec>", "add a toxic (repeatable); see below", collect, [])
    .option("--seed <n>", "seed every per-connection draw (toxicity, jitter, slices), to replay a run")
    .option("--api [host:port]", "serve toxiproxy's HTTP API (default: 127.0.0.1:8474 when given bare)")
    .option("--api-allow-remote", "let the API listen on an address other machines can reach")
    .option("--api-max-body <size>", "API: largest request body; more is answered 413 and closed", "1MiB")
    .option("--api-max-json-depth <n>", "API: deepest nesting of a JSON body; deeper is answered 400", "32")
    .option(
      "--api-request-timeout <time>",
      "API: a request's headers and body must arrive within this; else 408 and closed",
      "10s",
    )
    .option("--api-max-connections <n>", "API: connections served at once; more are closed", "64")
    .option("--api-max-proxies <n>", "API: proxies clients may create; one more is answered 400", "1000")
    .option("--api-max-toxics <n>", "API: toxics per proxy through the API; one more is answered 400", "64")
    .option("--name <name>", "the proxy's name in the API", "proxy")
    .option("--max-connections <n>", "connections proxied at once; more are reset", "1000")
    .option("--connect-timeout <time>", "give up connecting upstream after this long", "10s")
    .option(
      "--max-buffer-bytes <size>",
      "per direction, most bytes held by the toxics before reading pauses",
      "1MiB",
    )
    .option(
      "--read-buffer-bytes <size>",
      "per direction, most bytes one read takes (reads grow to it under bulk traffic; past 256KiB only within --read-buffer-total)",
      "1MiB",
    )
    .option(
      "--read-buffer-total <size>",
      "read buffer bytes past 256KiB per read that all connections together may hold",
      "64MiB",
    )
    .option(
      "--busy-poll <time>",
      "after each read, poll the sockets this long (up to 1ms; 0: off) instead of sleeping: a shorter round trip for CPU while request-reply traffic flows; backs off when it does not pay",
      "50us",
    )
    .option(
      "--no-check-upstream",
      "skip the start-up check that the upstream answers (its connection is kept for the first client)",
    )
    .option("--udp", "proxy UDP instead, through the network emulator (--loss, --delay, …)")
    .option("--loss <rate>", "UDP: drop this fraction of datagrams each way, 0–1", "0")
    .option("--delay <time>", "UDP: delay every datagram by this long (bare numbers are seconds)", "0s")
    .option("--jitter <time>", "UDP: vary each delay by ± this much", "0s")
    .option("--duplicate <rate>", "UDP: send this fraction twice, 0–1", "0")
    .option("--reorder <rate>", "UDP: hold this fraction back behind the next, 0–1", "0")
    .option(
      "--reply-rate <rate>",
      "UDP: most bytes per second of replies sent to one client address (an IPv6 /64), as lab udp echo's; loopback exempt; 'unlimited' for none",
      REPLY_LIMIT_TEXT.rate,
    )
    .option(
      "--reply-burst <size>",
      "UDP: bytes one client may be sent at once before --reply-rate applies",
      REPLY_LIMIT_TEXT.burst,
    )
    .option(
      "--max-reply-sources <n>",
      "UDP: client addresses whose --reply-rate is tracked",
      REPLY_LIMIT_TEXT.sources,
    );
  addLogOptions(
    cmd,
    "a line per connection open (toxics acting on it) and close (bytes, duration, reason), or per datagram",
  )
    .addHelpText(
      "after",
      `${TOXIC_HELP}

Examples:
  lab proxy :6001 127.0.0.1:5001 --toxic latency=100 --toxic slicer=1
  lab proxy :6001 127.0.0.1:5001 --toxic reset_peer=500,toxicity=0.3 --seed 1
  lab proxy :6001 127.0.0.1:5001 --api          then drive it with toxiproxy-cli or a toxiproxy client
  lab proxy :6001 127.0.0.1:5001 --api --api-max-proxies 10 --api-request-timeout 2s
  lab proxy --udp :6003 127.0.0.1:5003 --loss 0.2 --delay 30ms --jitter 10ms

A FIN from one side passes on as a FIN (half-close works); a reset as a reset. A client's bytes
are read only once its upstream connection is up; if the upstream refuses, the client is reset.
Logs go to stderr: 'proxying LISTEN → UPSTREAM' once ready, 'UTC-TIME LEVEL MESSAGE' per line
(-q, --log-format as lab server's; docs/logging.md). A proxy, or an --api-allow-remote API,
reachable from other machines says so once in a warn line (docs/security.md). Ctrl-C stops it (exit 0).`,
    )
    .action(
      action(async (listen: string, upstream: string, opts: ProxyOpts) =>
        runProxy(listen, upstream, opts, apiLimits(cmd, opts)),
      ),
    );
}

/** The API's limit flags, each read into its ProxyApi option; bounds keep a typo from disarming one. */
const API_LIMITS = {
  apiMaxBody: (text: string) => ({
    maxBodyBytes: parseByteSize("--api-max-body", text, { min: 1, max: 64 * 1024 * 1024 }),
  }),
  apiMaxJsonDepth: (text: string) => ({
    maxJsonDepth: parseNumber("--api-max-json-depth", text, { min: 1, max: 1000, integer: true }),
  }),
  apiRequestTimeout: (text: string) => ({
    requestTimeoutMs: parseDuration("--api-request-timeout", text, { minMs: 100, maxMs: 3_600_000 }),
  }),
  apiMaxConnections: (text: string) => ({
    maxConnections: parseNumber("--api-max-connections", text, { min: 1, max: 100_000, integer: true }),
  }),
  apiMaxProxies: (text: string) => ({
    maxProxies: parseNumber("--api-max-proxies", text, { min: 1, max: 65_535, integer: true }),
  }),
  apiMaxToxics: (text: string) => ({
    maxToxics: parseNumber("--api-max-toxics", text, { min: 1, max: 10_000, integer: true }),
  }),
} as const;

type ApiLimits = Pick<
  import("@netlab/proxy").ProxyApiOptions,
  "maxBodyBytes" | "maxJsonDepth" | "requestTimeoutMs" | "maxConnections" | "maxProxies" | "maxToxics"
>;

/**
 * The --api-* limits as ProxyApi options (their defaults when not given), or a usage error for
 * an --api-* flag without --api: ignoring it would leave the user believing a limit is set.
 */
function apiLimits(cmd: Command, o: ProxyOpts): ApiLimits {
  if (o.udp !== true) {
    // A TCP client's address cannot be forged past the handshake: the limit is UDP's alone.
    const given = ["replyRate", "replyBurst", "maxReplySources"].find(
      (key) => cmd.getOptionValueSource(key) === "cli",
    );
    if (given !== undefined) {
      const flag = `--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new UsageError(`${flag} bounds what --udp sends back`, `add --udp, or drop ${flag}`);
    }
  }
  if (o.api === undefined) {
    const given = ["apiAllowRemote", ...Object.keys(API_LIMITS)].find((key) => {
      const source = cmd.getOptionValueSource(key);
      return source !== undefined && source !== "default";
    });
    if (given !== undefined) {
      const flag = `--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new UsageError(`${flag} needs --api`, "add --api (or --api HOST:PORT)");
    }
  }
  return Object.assign(
    {},
    ...Object.entries(API_LIMITS).map(([key, read]) => read(o[key as keyof typeof API_LIMITS])),
  );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface ProxyOpts extends LogOpts {
  toxic: string[];
  seed?: string;
  api?: string | boolean;
  apiAllowRemote?: boolean;
  apiMaxBody: string;
  apiMaxJsonDepth: string;
  apiRequestTimeout: string;
  apiMaxConnections: string;
  apiMaxProxies: string;
  apiMaxToxics: string;
  name: string;
  maxConnections: string;
  connectTimeout: string;
  maxBufferBytes: string;
  readBufferBytes: string;
  readBufferTotal: string;
  busyPoll: string;
  checkUpstream: boolean;
  udp?: boolean;
  loss: string;
  delay: string;
  jitter: string;
  duplicate: string;
  reorder: string;
  replyRate: string;
  replyBurst: string;
  maxReplySources: string;
}

/** An INVALID_OPTION, INVALID_TOXIC or PROXY_LOOP from the package is a usage error (exit 2). */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { code?: string; message?: string; hint?: string };
    if (e?.code === "INVALID_OPTION" || e?.code === "INVALID_TOXIC" || e?.code === "PROXY_LOOP") {
      throw new UsageError(e.message ?? String(err), e.hint);
    }
    throw err;
  }
}

async function runProxy(listen: string, upstream: string, o: ProxyOpts, apiLimits: ApiLimits): Promise<void> {
  const log = createLogger(o);
  const seed =
    o.seed === undefined
      ? undefined
      : parseNumber("--seed", o.seed, { min: 0, max: 2 ** 32 - 1, integer: true });
  const px = await import("@netlab/proxy");
  if (o.udp) return runUdp(px, listen, upstream, o, seed, log);
  // Said once the ready line is out: the command line's proxy says it there, after its address.
  let isReady = false;
  // The data-path limits, for this proxy and every one the API creates; one read budget for all.
  const dataPath = usage(() => ({
    onListening: (p: import("@netlab/proxy").TcpProxy) => {
      if (isReady)
        warnExposed(log, p.boundHost, `connect through it to ${p.upstreamAddress}`, `proxy ${p.name}`);
    },
    maxConnections: parseNumber("--max-connections", o.maxConnections, {
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
    connectTimeoutMs: parseDuration("--connect-timeout", o.connectTimeout, {
      minMs: 1,
      maxMs: 3_600_000,
    }),
    maxBufferedBytes: parseByteSize("--max-buffer-bytes", o.maxBufferBytes, { min: 1024, max: 2 ** 31 }),
    readBufferBytes: parseByteSize("--read-buffer-bytes", o.readBufferBytes, {
      min: 1024,
      max: 64 * 1024 * 1024,
    }),
    readBudget: new px.ReadBudget(
      parseByteSize("--read-buffer-total", o.readBufferTotal, { min: 0, max: 16 * 1024 * 1024 * 1024 }),
    ),
    busyPollUs: parseMicroseconds("--busy-poll", o.busyPoll, { minMs: 0, maxMs: 1 }),
  }));
  const specs = usage(() => o.toxic.flatMap((text) => expandBoth(px.parseToxicSpec(text))));
  const toxics = usage(() => new px.ToxicSet({ seed, toxics: specs }));
  const proxy = usage(() => new px.TcpProxy({ name: o.name, listen, upstream, toxics, ...dataPath }));
  const api =
    o.api === undefined
      ? undefined
      : usage(
          () =>
            new px.ProxyApi({
              listen: o.api === true ? px.API_DEFAULTS.listen : String(o.api),
              allowRemote: o.apiAllowRemote === true,
              seed: toxics.seed,
              proxyDefaults: dataPath,
              ...apiLimits,
            }),
        );
  // The check's connection becomes the first client's upstream, so the server counts no extra one.
  if (o.checkUpstream) proxy.keepUpstream(await checkUpstream(proxy.upstreamAddress, px));

  proxy.on("refused", ({ id, client, error }) =>
    log.warn(`#${id} ${client}: ${error.message}; the client was reset`, {
      event: "refused",
      id,
      peer: client,
    }),
  );
  if (log.isVerbose) {
    const opened = new Map<number, number>();
    proxy.on("open", (link) => {
      opened.set(link.id, Date.now());
      const info = link.info();
      const acting = Object.entries(info.toxics)
        .filter(([, on]) => on)
        .map(([name]) => name);
      log.debug(`#${link.id} ${info.client} connected; toxics: ${acting.join(", ") || "none"}`, {
        event: "connect",
        id: link.id,
        peer: info.client,
        toxics: acting.join(","),
      });
    });
    proxy.on("close", (link, how) => {
      const info = link.info();
      const ms = Date.now() - (opened.get(link.id) ?? Date.now());
      opened.delete(link.id);
      log.debug(
        `#${link.id} ${how.how} (${how.reason}); ${info.bytesUpstream} B up, ${info.bytesDownstream} B down, ${seconds(ms)}, client ${info.client}`,
        {
          event: "disconnect",
          id: link.id,
          peer: info.client,
          how: how.how,
          reason: how.reason,
          durationMs: ms,
          bytesUp: info.bytesUpstream,
          bytesDown: info.bytesDownstream,
        },
      );
    });
  }

  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const stopSignals = onInterrupt(
    () => {
      // Those created through the API too: one left listening would keep the process alive.
      const all = new Set([proxy, ...(api?.proxies.values() ?? [])]);
      const open = [...all].reduce((n, p) => n + p.links.size, 0);
      log.info(`shutting down (${open} connection${open === 1 ? "" : "s"} open)`);
      // The API first, so nothing adds work; then open connections get their drain time.
      void (async () => {
        await api?.close({ keepProxies: true });
        await Promise.all([...all].map((p) => p.shutdown()));
      })().then(stopped);
    },
    { onAgain: (signal) => log.warn(`${signal} again: exiting without waiting`) },
  );
  try {
    await proxy.listen();
    if (api) {
      api.add(proxy);
      await api.listen();
    }
    log.ready(`proxying ${proxy.listenAddress} → ${proxy.upstreamAddress}`, {
      event: "listening",
      address: proxy.listenAddress,
      upstream: proxy.upstreamAddress,
    });
    for (const t of toxics.list()) log.info(`toxic ${describeToxic(t)}`);
    log.info(`seed ${toxics.seed} (--seed ${toxics.seed} replays the same choices)`);
    if (api) log.ready(`api on http://${api.address} (toxiproxy-compatible; GET /connections)`);
    warnExposed(log, proxy.boundHost, `connect through it to ${proxy.upstreamAddress}`);
    isReady = true;
    if (api) {
      // --api-allow-remote asked for it; said all the same, as the API has no password.
      warnExposed(
        log,
        api.boundHost,
        "open ports here that relay to any address, and add toxics to or reset every proxy",
        "the API",
      );
    }
    await done;
  } catch (err) {
    await Promise.all([proxy.close(), api?.close()]);
    throw err;
  } finally {
    stopSignals();
  }
  log.info("stopped");
}

type Px = typeof import("@netlab/proxy");

/** One `warn` line when a listener of the proxy is reachable from other machines (docs/security.md). */
function warnExposed(log: Logger, host: string | undefined, what: string, subject?: string): void {
  const exposed = host === undefined ? undefined : exposureWarning({ host }, what, "", subject);
  if (exposed) log.warn(exposed, { event: "exposed" });
}

/** `stream=both` is the command line's shorthand for one toxic each way. */
function expandBoth(spec: import("@netlab/proxy").ToxicSpec): import("@netlab/proxy").ToxicSpec[] {
  if (spec.stream !== "both") return [spec];
  return (["upstream", "downstream"] as const).map((stream) => ({
    ...spec,
    stream,
    name: spec.name === undefined ? undefined : `${spec.name}_${stream}`,
  }));
}

function describeToxic(t: import("@netlab/proxy").Toxic): string {
  const attrs = Object.entries(t.attributes)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(",");
  const target = [
    t.client === undefined ? "" : ` client ${t.client}`,
    t.connection === undefined ? "" : ` connection #${t.connection}`,
  ].join("");
  return `${t.name}: ${t.type} ${attrs} on ${t.stream}, toxicity ${t.toxicity}${target}`;
}

/** Fails at start when nothing listens upstream: a proxy to nowhere only resets its clients. */
async function checkUpstream(upstream: string, px: Px): Promise<import("node:net").Socket> {
  const { connect } = await import("@netlab/socketserver");
  const { host, port } = px.parseAddress(upstream, "upstream");
  try {
    const socket = await connect({
      host,
      port,
      timeoutMs: 5000,
      // It becomes the first client's upstream leg, which is off the tap like every upstream leg.
      tap: false,
    });
    return socket;
  } catch (err) {
    const e = err as Error & { hint?: string; code?: string };
    // Only a refusal means "nothing listens there"; a name that does not resolve keeps its own hint.
    const hint =
      e.code === "CONNECTION_REFUSED"
        ? `start the server first (e.g. lab server --port ${port}), then the proxy`
        : e.hint;
    throw Object.assign(new Error(`upstream ${upstream} is not answering: ${e.message}`), {
      code: "UPSTREAM",
      hint,
    });
  }
}

async function runUdp(
  px: Px,
  listen: string,
  upstream: string,
  o: ProxyOpts,
  seed: number | undefined,
  log: Logger,
): Promise<void> {
  if (o.toxic.length > 0) {
    throw new UsageError(
      "--toxic is for TCP; UDP takes --loss, --delay, --jitter, --duplicate and --reorder",
    );
  }
  if (o.api !== undefined) {
    throw new UsageError(
      "--api drives TCP proxies (toxiproxy's API has no UDP); --udp takes its settings on the command line",
      "drop --api, or run a TCP proxy beside it",
    );
  }
  const proxy = usage(
    () =>
      new px.UdpProxy({
        listen,
        upstream,
        seed,
        lossRate: parseNumber("--loss", o.loss, { min: 0, max: 1 }),
        delayMs: parseDuration("--delay", o.delay, { minMs: 0, maxMs: 3_600_000 }),
        jitterMs: parseDuration("--jitter", o.jitter, { minMs: 0, maxMs: 3_600_000 }),
        duplicateRate: parseNumber("--duplicate", o.duplicate, { min: 0, max: 1 }),
        reorderRate: parseNumber("--reorder", o.reorder, { min: 0, max: 1 }),
        busyPollUs: parseMicroseconds("--busy-poll", o.busyPoll, { minMs: 0, maxMs: 1 }),
        ...replyLimits(o, "lab proxy --udp :6003 127.0.0.1:5003 --reply-rate 1MiB/s"),
      }),
  );
  if (log.isVerbose) {
    proxy.on("datagram", (d) => {
      const fate = d.rateLimited
        ? "not sent, over --reply-rate for this client"
        : d.dropped
          ? "dropped"
          : `${d.copies > 1 ? "sent twice" : "sent"}${d.reordered ? ", held back" : ""}${d.delaysMs.some((ms) => ms > 0) ? ` after ${d.delaysMs.map((ms) => ms.toFixed(1)).join(" and ")} ms` : ""}`;
      log.debug(`${d.direction === "upstream" ? "→" : "←"} ${d.client} ${plural(d.bytes, "byte")} ${fate}`, {
        event: "datagram",
        direction: d.direction,
        peer: d.client,
        bytes: d.bytes,
      });
    });
  }
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const stopSignals = onInterrupt(
    () => {
      log.info("shutting down");
      void proxy.close().then(stopped);
    },
    { onAgain: (signal) => log.warn(`${signal} again: exiting without waiting`) },
  );
  try {
    await proxy.listen();
    const e = proxy.upstreamEmulator.options;
    log.ready(`proxying udp ${proxy.listenAddress} → ${upstream}`, {
      event: "listening",
      address: proxy.listenAddress,
      upstream,
    });
    warnExposed(
      log,
      proxy.boundHost,
      `relay datagrams through it to ${upstream}, and aim the replies at any address by forging the source, ${replyLimitText(proxy.replyLimiter.options)}`,
    );
    log.info(
      `emulating each way: loss ${e.lossRate}, delay ${e.delayMs} ms ± ${e.jitterMs} ms, duplicate ${e.duplicateRate}, reorder ${e.reorderRate} (--seed ${e.seed} replays it)`,
    );
    await done;
  } finally {
    stopSignals();
  }
  log.info(`stopped (${proxy.rateLimited} replies not sent over --reply-rate)`, {
    event: "stopped",
    rateLimited: proxy.rateLimited,
  });
}
