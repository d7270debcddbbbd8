import { homedir } from "node:os";
import { join } from "node:path";

/**
 * netlab's config folder: `$XDG_CONFIG_HOME/netlab`, or `~/.config/netlab` when that is unset or
 * not absolute (the XDG spec says a relative value is to be ignored).
 * @example configDir({ XDG_CONFIG_HOME: "/tmp/cfg" }) // "/tmp/cfg/netlab"
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg?.startsWith("/") ? join(xdg, "netlab") : join(homedir(), ".config", "netlab");
}

/** The default known-hosts file: `known_hosts` in {@link configDir}. */
export function defaultKnownHostsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "known_hosts");
}
