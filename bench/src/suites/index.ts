import type { Suite } from "../types.js";
import { chatSuite } from "./chat.js";
import { cliSuite } from "./cli.js";
import { clusterSuite } from "./cluster.js";
import { demoSuite } from "./demo.js";
import { echoSuite } from "./echo.js";
import { eventsSuite } from "./events.js";
import { mutexSuite } from "./mutex.js";
import { proxySuite } from "./proxy.js";
import { tlsSuite } from "./tls.js";
import { transferSuite } from "./transfer.js";
import { udpSuite } from "./udp.js";
import { urlSuite } from "./url.js";

/** Every suite, in the order `pnpm bench` runs them. Add yours here. */
export const suites: Suite[] = [
  cliSuite,
  demoSuite,
  echoSuite,
  chatSuite,
  eventsSuite,
  clusterSuite,
  mutexSuite,
  proxySuite,
  transferSuite,
  tlsSuite,
  udpSuite,
  urlSuite,
];
