import http from "node:http";
import { formatBytes, hasControls, isNetlabError, safeJson, withDefaults } from "@netlab/core";
import { toNetworkError } from "@netlab/socketserver";
import { type Address, formatAddress, parseAddress } from "./address.js";
import { ProxyError, requireInt } from "./errors.js";
import type { LinkInfo } from "./link.js";
import { randomSeed } from "./random.js";
import { TcpProxy, type TcpProxyOptions } from "./tcp-proxy.js";
import { ToxicSet } from "./toxic-set.js";
import type { ToxicSpec } from "./toxics.js";

/** The version GET /version reports: toxiproxy's API level, and that it is netlab behind it. */
export const API_VERSION = "2.12.0-netlab";

/** Options of a {@link ProxyApi}. */
export interface ProxyApiOptions {
  /** Where the API listens, `HOST:PORT`. Default `127.0.0.1:8474` (toxiproxy's port). */
  listen?: string;
  /** Accept an address other machines can reach. Default false: the API can open ports and break traffic. */
  allowRemote?: boolean;
  /** Seed of the toxic sets of proxies created through the API. Default random. */
  seed?: number;
  /** Largest request body, bytes; more is answered 413 and the connection closed. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Deepest nesting of arrays and objects a JSON body may have; deeper is answered 400. Default 32. */
  maxJsonDepth?: number;
  /**
   * How long a request may take to arrive, headers and body, ms; a slower one is answered 408 and
   * closed, so a client that never finishes its headers (slowloris) holds a connection no longer. Default 10 000.
   */
  requestTimeoutMs?: number;
  /** Connections the API serves at once; more are closed as they arrive. Default 64. */
  maxConnections?: number;
  /**
   * Proxies the API creates (each listens on a port); one more is answered 400. Those handed to
   * {@link ProxyApi.add} (the command line's own) do not count. Default 1 000.
   */
  maxProxies?: number;
  /** Toxics one proxy may hold through the API (each acts on every byte); one more is answered 400. Default 64. */
  maxToxics?: number;
  /** Options every proxy created through the API gets (limits, observers). */
  proxyDefaults?: Omit<TcpProxyOptions, "name" | "listen" | "upstream" | "enabled" | "toxics">;
}

/** Defaults of {@link ProxyApiOptions}. */
export const API_DEFAULTS = {
  listen: "127.0.0.1:8474",
  allowRemote: false,
  maxBodyBytes: 1024 * 1024,
  maxJsonDepth: 32,
  requestTimeoutMs: 10_000,
  maxConnections: 64,
  maxProxies: 1_000,
  maxToxics: 64,
} as const;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"]);

const STATUS: Partial<Record<string, number>> = {
  UNKNOWN_PROXY: 404,
  UNKNOWN_TOXIC: 404,
  DUPLICATE_PROXY: 409,
  DUPLICATE_TOXIC: 409,
  ADDRESS_IN_USE: 409,
  INVALID_OPTION: 400,
  INVALID_TOXIC: 400,
  BAD_REQUEST: 400,
  PROXY_LOOP: 400,
};

/**
 * A toxiproxy-compatible HTTP API over a set of {@link TcpProxy}s, so toxiproxy's clients
 * (toxiproxy-node-client, toxiproxy-cli) drive netlab unchanged: `/proxies`, `/proxies/{name}`,
 * `/proxies/{name}/toxics`, `/proxies/{name}/toxics/{toxic}`, `/reset`, `/populate`, `/version`,
 * plus `GET /connections` (which toxics act on which connection). Errors are toxiproxy's
 * `{ "error": …, "status": … }` with netlab's `code` and `hint` added.
 * @example
 * const api = new ProxyApi({ listen: "127.0.0.1:8474", seed: 1 });
 * await api.listen();
 */
export class ProxyApi {
  readonly proxies = new Map<string, TcpProxy>();
  readonly seed: number;
  #listen: Address;
  readonly #limits: {
    maxBodyBytes: number;
    maxJsonDepth: number;
    requestTimeoutMs: number;
    maxConnections: number;
    maxProxies: number;
    maxToxics: number;
  };
  readonly #proxyDefaults: ProxyApiOptions["proxyDefaults"];
  /** Proxies given to add() rather than created here: maxProxies bounds only what clients make. */
  readonly #added = new WeakSet<TcpProxy>();
  #server: http.Server | undefined;

  constructor(options: ProxyApiOptions = {}) {
    this.#listen = parseAddress(options.listen ?? API_DEFAULTS.listen, "API address", { allowZero: true });
    if (!(options.allowRemote ?? API_DEFAULTS.allowRemote) && !LOOPBACK_HOSTS.has(this.#listen.host)) {
      throw new ProxyError(
        "INVALID_OPTION",
        `the API would listen on ${formatAddress(this.#listen)}, reachable from other machines`,
        {
          hint: "anyone who reaches it can open ports and break traffic; bind 127.0.0.1, or pass --api-allow-remote",
        },
      );
    }
    this.seed = options.seed ?? randomSeed();
    const limits = withDefaults(API_DEFAULTS, options);
    const { maxBodyBytes, maxJsonDepth, requestTimeoutMs, maxConnections, maxProxies, maxToxics } = limits;
    for (const [name, value] of Object.entries({
      maxBodyBytes,
      maxJsonDepth,
      requestTimeoutMs,
      maxConnections,
      maxProxies,
      maxToxics,
    })) {
      requireInt(name, value, { min: 1 });
    }
    this.#limits = { maxBodyBytes, maxJsonDepth, requestTimeoutMs, maxConnections, maxProxies, maxToxics };
    this.#proxyDefaults = options.proxyDefaults;
  }

  /** The address listened on, `HOST:PORT` (the real port once listening). */
  get address(): string {
    return formatAddress(this.#listen);
  }

  /**
   * The IP address the listener is bound to (a name resolved, `::` or `0.0.0.0` as such), or
   * undefined when not listening: what decides who can reach it, which a name alone does not say.
   */
  get boundHost(): string | undefined {
    return (this.#server?.address() as { address: string } | null | undefined)?.address;
  }

  /** Adds a proxy (already made, e.g. from the command line) to the API; DUPLICATE_PROXY if the name is taken. */
  add(proxy: TcpProxy): void {
    if (this.proxies.has(proxy.name)) {
      throw new ProxyError("DUPLICATE_PROXY", `a proxy named '${proxy.name}' already exists`, {
        hint: "choose another name, or delete the old one first",
      });
    }
    this.proxies.set(proxy.name, proxy);
    this.#added.add(proxy);
  }

  /** Creates, starts and adds a proxy from toxiproxy's JSON (`name`, `listen`, `upstream`, `enabled`). */
  async create(body: unknown): Promise<TcpProxy> {
    const o = asObject(body, "a proxy");
    const name = o.name;
    if (typeof name !== "string" || !/^[\w.-]{1,64}$/.test(name)) {
      throw new ProxyError(
        "BAD_REQUEST",
        `proxy name must be 1–64 letters, digits, _ . or -, got ${JSON.stringify(name)}`,
      );
    }
    if (this.proxies.has(name)) {
      throw new ProxyError("DUPLICATE_PROXY", `a proxy named '${name}' already exists`, {
        hint: "choose another name, or delete the old one first",
      });
    }
    const created = [...this.proxies.values()].filter((p) => !this.#added.has(p)).length;
    if (created >= this.#limits.maxProxies) {
      throw new ProxyError("BAD_REQUEST", `the API has created ${created} proxies, its maxProxies`, {
        hint: "delete one first (DELETE /proxies/{name}), or raise the limit (lab proxy --api-max-proxies)",
      });
    }
    const proxy = new TcpProxy({
      ...this.#proxyDefaults,
      name,
      listen: stringField(o, "listen"),
      upstream: stringField(o, "upstream"),
      enabled: o.enabled === undefined ? true : o.enabled === true,
      toxics: new ToxicSet({ seed: this.seed }),
    });
    await proxy.listen();
    this.proxies.set(name, proxy);
    return proxy;
  }

  /** The proxy with this name; throws UNKNOWN_PROXY. */
  get(name: string): TcpProxy {
    const proxy = this.proxies.get(name);
    if (!proxy) {
      throw new ProxyError("UNKNOWN_PROXY", `no proxy named '${name}'`, {
        hint: `proxies here: ${[...this.proxies.keys()].join(", ") || "none"}`,
      });
    }
    return proxy;
  }

  /** Every proxy's open connections, by proxy name. */
  connections(): Record<string, LinkInfo[]> {
    return Object.fromEntries([...this.proxies].map(([name, p]) => [name, p.connections()]));
  }

  /** Starts serving the API. Throws ADDRESS_IN_USE and the like. */
  async listen(): Promise<void> {
    const { requestTimeoutMs, maxConnections } = this.#limits;
    const server = http.createServer(
      {
        headersTimeout: requestTimeoutMs,
        requestTimeout: requestTimeoutMs,
        // Node checks both timeouts only this often (30 s by default): a bound is only as good as it.
        connectionsCheckingInterval: Math.min(1_000, Math.max(10, Math.floor(requestTimeoutMs / 4))),
      },
      (req, res) => {
        this.#handle(req, res).catch((err: unknown) => reply(res, statusOf(err), errorBody(err)));
      },
    );
    server.maxConnections = maxConnections;
    // The two timeouts above start at a request's first byte; a connection that sends nothing is idle.
    server.timeout = requestTimeoutMs;
    const { host, port } = this.#listen;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(toNetworkError(err, { action: "listen", host, port })));
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    this.#listen = { host, port: (server.address() as { port: number }).port };
  }

  /** Stops the API and, unless `keepProxies`, every proxy (their connections reset). */
  async close({ keepProxies = false } = {}): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!keepProxies) await Promise.all([...this.proxies.values()].map((p) => p.close()));
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const parts = new URL(req.url ?? "/", "http://api").pathname.split("/").filter(Boolean).map(pathPart);
    const body = method === "POST" ? await readJson(req, res, this.#limits) : undefined;
    const route = `${method} /${parts.map((p, i) => (i === 1 || i === 3 ? "*" : p)).join("/")}`;
    const [, name = "", , toxic = ""] = parts;
    switch (route) {
      case "GET /version":
        return reply(res, 200, { version: API_VERSION });
      case "GET /connections":
        return reply(res, 200, this.connections());
      case "POST /reset":
        for (const p of this.proxies.values()) {
          p.toxics.clear();
          await p.update({ enabled: true });
        }
        return reply(res, 204);
      case "POST /populate":
        return reply(res, 201, { proxies: await this.#populate(body) });
      case "GET /proxies":
        return reply(res, 200, Object.fromEntries([...this.proxies].map(([n, p]) => [n, p.toJSON()])));
      case "POST /proxies":
        return reply(res, 201, (await this.create(body)).toJSON());
      case "GET /proxies/*":
        return reply(res, 200, this.get(name).toJSON());
      case "POST /proxies/*": {
        const proxy = this.get(name);
        const o = asObject(body, "a proxy update");
        await proxy.update({
          listen: optionalString(o, "listen"),
          upstream: optionalString(o, "upstream"),
          enabled: typeof o.enabled === "boolean" ? o.enabled : undefined,
        });
        return reply(res, 200, proxy.toJSON());
      }
      case "DELETE /proxies/*": {
        const proxy = this.get(name);
        this.proxies.delete(name);
        await proxy.close();
        return reply(res, 204);
      }
      case "GET /proxies/*/toxics":
        return reply(res, 200, this.get(name).toxics.list());
      case "POST /proxies/*/toxics": {
        const { toxics } = this.get(name);
        if (toxics.list().length >= this.#limits.maxToxics) {
          throw new ProxyError(
            "BAD_REQUEST",
            `proxy '${name}' has ${this.#limits.maxToxics} toxics, its maxToxics`,
            {
              hint: "remove one first (DELETE /proxies/{name}/toxics/{toxic}), or raise the limit (lab proxy --api-max-toxics)",
            },
          );
        }
        return reply(res, 200, toxics.add(toxicSpec(body)));
      }
      case "GET /proxies/*/toxics/*":
        return reply(res, 200, this.get(name).toxics.get(toxic));
      case "POST /proxies/*/toxics/*": {
        const {
          type: _type,
          name: _name,
          ...changes
        } = toxicSpec({ type: "latency", ...asObject(body, "a toxic") });
        return reply(res, 200, this.get(name).toxics.update(toxic, changes));
      }
      case "DELETE /proxies/*/toxics/*":
        this.get(name).toxics.remove(toxic);
        return reply(res, 204);
      default:
        return reply(res, 404, {
          error: `no route ${method} ${req.url ?? "/"}`,
          status: 404,
          hint: "routes: /proxies, /proxies/{name}, /proxies/{name}/toxics[/{toxic}], /reset, /populate, /version, /connections",
        });
    }
  }

  /** Creates the proxies given, replacing any of the same name whose listen or upstream differs (as toxiproxy). */
  async #populate(body: unknown): Promise<unknown[]> {
    if (!Array.isArray(body)) throw new ProxyError("BAD_REQUEST", "populate takes a JSON array of proxies");
    const out: unknown[] = [];
    for (const item of body) {
      const o = asObject(item, "a proxy");
      const old = typeof o.name === "string" ? this.proxies.get(o.name) : undefined;
      if (old && old.upstreamAddress === normal(o.upstream) && old.listenAddress === normal(o.listen)) {
        out.push(old.toJSON());
        continue;
      }
      if (old) {
        this.proxies.delete(old.name);
        await old.close();
      }
      out.push((await this.create(o)).toJSON());
    }
    return out;
  }
}

function normal(text: unknown): string | undefined {
  try {
    return formatAddress(parseAddress(String(text), "address", { allowZero: true }));
  } catch {
    return undefined;
  }
}

function toxicSpec(body: unknown): ToxicSpec {
  const o = asObject(body, "a toxic");
  const spec: ToxicSpec = { type: String(o.type) };
  if (o.name !== undefined) spec.name = String(o.name);
  if (o.stream !== undefined) spec.stream = String(o.stream);
  if (o.toxicity !== undefined) spec.toxicity = o.toxicity as number;
  if (o.attributes !== undefined) spec.attributes = asObject(o.attributes, "toxic attributes");
  if (o.client !== undefined) {
    // Shown back in GET /toxics and /connections: an address, never text that could drive a terminal.
    if (typeof o.client !== "string" || hasControls(o.client) || o.client.length > 300) {
      throw new ProxyError("BAD_REQUEST", "'client' must be a host or host:port");
    }
    spec.client = o.client;
  }
  if (o.connection !== undefined) spec.connection = o.connection as number;
  return spec;
}

function asObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ProxyError("BAD_REQUEST", `expected ${what} as a JSON object`);
  }
  return body as Record<string, unknown>;
}

function stringField(o: Record<string, unknown>, key: string): string {
  if (typeof o[key] !== "string") throw new ProxyError("BAD_REQUEST", `'${key}' must be a HOST:PORT string`);
  return o[key] as string;
}

function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  return o[key] === undefined || o[key] === "" ? undefined : stringField(o, key);
}

/** One decoded path segment; a bad %-escape is the client's error (400), not the server's. */
function pathPart(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ProxyError("BAD_REQUEST", "the path has a malformed %-escape", {
      hint: "percent-encode names as UTF-8, e.g. %20 for a space",
    });
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The request's JSON body. Too large: 413 before a byte past `maxBodyBytes` is kept, and the
 * connection is closed once the answer is out (the rest of the body is never read). Invalid UTF-8
 * and nesting past `maxJsonDepth` are 400: a deep `[[[[…` is refused before JSON.parse, so nothing
 * later (error messages quoting the value) recurses through it.
 */
function readJson(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  limits: { maxBodyBytes: number; maxJsonDepth: number },
): Promise<unknown> {
  const { maxBodyBytes, maxJsonDepth } = limits;
  const tooLarge = () => {
    res.setHeader("connection", "close");
    return Object.assign(
      new ProxyError("BAD_REQUEST", `request body over ${formatBytes(maxBodyBytes)}`, {
        hint: "a proxy or toxic is a few hundred bytes of JSON",
      }),
      { status: 413 },
    );
  };
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > maxBodyBytes) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > maxBodyBytes) {
        req.off("data", onData);
        req.pause();
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("error", reject);
    req.on("end", () => {
      let text: string;
      try {
        text = UTF8.decode(Buffer.concat(chunks));
      } catch {
        reject(
          new ProxyError("BAD_REQUEST", "request body is not valid UTF-8", { hint: "send JSON in UTF-8" }),
        );
        return;
      }
      if (text.trim() === "") return resolve(undefined);
      if (jsonDepth(text) > maxJsonDepth) {
        reject(
          new ProxyError("BAD_REQUEST", `request body nests deeper than ${maxJsonDepth} levels`, {
            hint: "a proxy or toxic nests two or three levels",
          }),
        );
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(
          new ProxyError("BAD_REQUEST", "request body is not JSON", {
            hint: 'send a JSON object, e.g. {"type":"latency"}',
          }),
        );
      }
    });
  });
}

/** The deepest nesting of `[` and `{` in JSON text, brackets inside strings not counted. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function statusOf(err: unknown): number {
  const explicit = (err as { status?: number }).status;
  if (typeof explicit === "number") return explicit;
  return isNetlabError(err) ? (STATUS[err.code] ?? 500) : 500;
}

function errorBody(err: unknown): Record<string, unknown> {
  const status = statusOf(err);
  if (isNetlabError(err))
    return { error: err.message, status, code: err.code, ...(err.hint ? { hint: err.hint } : {}) };
  return { error: err instanceof Error ? err.message : String(err), status };
}

function reply(res: http.ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  // JSON.stringify leaves DEL, C1 and bidi controls raw; as \u escapes the JSON means the same
  // and a name or error that quotes a hostile request cannot act on the terminal of whoever curls it.
  const text = `${safeJson(JSON.stringify(body))}\n`;
  res
    .writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    .end(text);
}
