/** The WHATWG URL standard's reading of a URL (Node's `URL`), with Python's part names. */
export type WhatwgView =
  | {
      ok: true;
      href: string;
      scheme: string;
      username: string;
      password: string;
      hostname: string;
      port: string;
      path: string;
      query: string;
      fragment: string;
    }
  | { ok: false; error: string };

/**
 * How a browser (and Node's `URL`) reads `url`, for comparison with {@link urlsplit}: WHATWG
 * normalizes (lower-cases and punycodes hosts, drops default ports, resolves `..`, percent-encodes
 * spaces) and refuses what it cannot parse, where Python splits the text as it is.
 * @example whatwg("HTTP://EXAMPLE.com:80/a/../b") // { ok: true, href: "http://example.com/b", ... }
 */
export function whatwg(url: string, base?: string): WhatwgView {
  let u: URL;
  try {
    u = base === undefined ? new URL(url) : new URL(url, base);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  return {
    ok: true,
    href: u.href,
    scheme: u.protocol.replace(/:$/, ""),
    username: u.username,
    password: u.password,
    hostname: u.hostname,
    port: u.port,
    path: u.pathname,
    query: u.search.replace(/^\?/, ""),
    fragment: u.hash.replace(/^#/, ""),
  };
}
