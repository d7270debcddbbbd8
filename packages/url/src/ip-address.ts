import { UrlError } from "./errors.js";
import { pyRepr } from "./py.js";

/**
 * Whether `text` is an IPv4 address as Python's `ipaddress.IPv4Address` reads it: four decimal
 * octets 0-255, no leading zeros (as strict as glibc's inet_pton).
 * @example isIPv4("127.0.0.1") // true; isIPv4("127.0.0.01") // false
 */
export function isIPv4(text: string): boolean {
  if (text.includes("/")) return false;
  const octets = text.split(".");
  if (octets.length !== 4) return false;
  return octets.every(
    (o) => /^[0-9]{1,3}$/.test(o) && (o === "0" || o[0] !== "0") && Number.parseInt(o, 10) <= 255,
  );
}

/**
 * Whether `text` is an IPv6 address as Python's `ipaddress.IPv6Address` reads it: up to eight
 * hextets, one `::`, an optional dotted IPv4 tail and an optional `%zone`.
 * @example isIPv6("fe80::1%eth0") // true; isIPv6("1::2::3") // false
 */
export function isIPv6(text: string): boolean {
  if (text.includes("/")) return false;
  const pct = text.indexOf("%");
  let addr = text;
  if (pct >= 0) {
    const zone = text.slice(pct + 1);
    if (zone === "" || zone.includes("%")) return false;
    addr = text.slice(0, pct);
  }
  if (addr === "") return false;
  const parts = addr.split(":");
  if (parts.length < 3) return false;
  if (parts.at(-1)!.includes(".")) {
    if (!isIPv4(parts.pop()!)) return false;
    parts.push("0", "0"); // the IPv4 tail stands for two hextets
  }
  if (parts.length > 9) return false;
  let skip = -1;
  for (let i = 1; i < parts.length - 1; i++) {
    if (parts[i] === "") {
      if (skip >= 0) return false;
      skip = i;
    }
  }
  let hi: number;
  let lo: number;
  if (skip >= 0) {
    hi = skip;
    lo = parts.length - skip - 1;
    if (parts[0] === "" && --hi !== 0) return false;
    if (parts.at(-1) === "" && --lo !== 0) return false;
    if (8 - (hi + lo) < 1) return false;
  } else {
    if (parts.length !== 8 || parts[0] === "" || parts.at(-1) === "") return false;
    hi = parts.length;
    lo = 0;
  }
  const used = [...parts.slice(0, hi), ...parts.slice(parts.length - lo)];
  return used.every((h) => /^[0-9a-fA-F]{1,4}$/.test(h));
}

/**
 * Python 3.11's `_check_bracketed_host`: what sits between `[` and `]` must be an IPv6 address or
 * an IPvFuture (`v1.x`); an IPv4 address in brackets is refused.
 */
export function checkBracketedHost(host: string): void {
  if (host.startsWith("v")) {
    // Python's `.` matches anything but a newline; JavaScript's also stops at \r and U+2028/9.
    if (!/^v[a-fA-F0-9]+\.[^\n]+$/.test(host)) {
      throw new UrlError("INVALID_HOST", "IPvFuture address is invalid", {
        hint: "an IPvFuture host looks like [v1.fe80::a+en1]",
      });
    }
    return;
  }
  if (isIPv4(host)) {
    throw new UrlError("INVALID_HOST", "An IPv4 address cannot be in brackets", {
      hint: "write an IPv4 host without brackets: http://127.0.0.1/",
    });
  }
  if (!isIPv6(host)) {
    throw new UrlError("INVALID_HOST", `${pyRepr(host)} does not appear to be an IPv4 or IPv6 address`, {
      hint: "brackets in a host hold an IPv6 address, e.g. http://[::1]:8080/",
    });
  }
}
