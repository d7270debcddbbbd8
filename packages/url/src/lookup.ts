import type { LookupFunction } from "node:net";

/**
 * A `lookup` that resolves the names in `table` (name → IPv4/IPv6 address) and fails every other
 * name with ENOTFOUND, without sending a DNS query. Pass `{}` to make every name fail.
 * @example await urlopen("http://api.test/", { lookup: staticLookup({ "api.test": "127.0.0.1" }) })
 */
export function staticLookup(table: Readonly<Record<string, string>>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const address = Object.hasOwn(table, hostname) ? table[hostname] : undefined;
    if (address === undefined) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: "ENOTFOUND",
        errno: -3008,
        syscall: "getaddrinfo",
        hostname,
      });
      process.nextTick(callback, err);
      return;
    }
    const family = address.includes(":") ? 6 : 4;
    if (options?.all) process.nextTick(callback, null, [{ address, family }]);
    else process.nextTick(callback, null, address, family);
  }) as LookupFunction;
}
