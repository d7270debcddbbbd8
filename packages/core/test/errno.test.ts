import { describe, expect, it } from "vitest";
import { describeErrno, errnoCode, errnoOf } from "../src/index.js";

const errno = (code: string, message = code) => Object.assign(new Error(message), { code });
const at = { action: "connect" as const, host: "127.0.0.1", port: 5001 };

describe("errnoOf", () => {
  it("finds the code on the error, in its cause, or in the first of its errors", () => {
    expect(errnoOf(errno("ECONNREFUSED"))).toBe("ECONNREFUSED");
    expect(errnoOf(new TypeError("fetch failed", { cause: errno("ENOTFOUND") }))).toBe("ENOTFOUND");
    expect(errnoOf(new AggregateError([errno("ECONNREFUSED"), errno("EHOSTUNREACH")]))).toBe("ECONNREFUSED");
    expect(errnoOf(new Error("plain"))).toBeUndefined();
    expect(errnoOf(undefined)).toBeUndefined();
  });

  it("prefers the failure an AbortError wraps, else calls it ABORT_ERR", () => {
    const abort = Object.assign(new Error("aborted"), { name: "AbortError", code: "ABORT_ERR" });
    expect(errnoOf(abort)).toBe("ABORT_ERR");
    expect(errnoOf(Object.assign(abort, { cause: errno("ECONNRESET") }))).toBe("ECONNRESET");
    expect(errnoOf(new DOMException("stop", "AbortError"))).toBe("ABORT_ERR");
  });
});

describe("errnoCode", () => {
  it.each([
    ["ECONNREFUSED", "CONNECTION_REFUSED"],
    ["ECONNRESET", "CONNECTION_RESET"],
    ["EPIPE", "CONNECTION_RESET"],
    ["ETIMEDOUT", "CONNECT_TIMEOUT"],
    ["ENETUNREACH", "HOST_UNREACHABLE"],
    ["ENETDOWN", "HOST_UNREACHABLE"],
    ["ENOTFOUND", "DNS_FAILURE"],
    ["EAI_AGAIN", "DNS_FAILURE"],
    ["ENOENT", "NO_SUCH_SOCKET"],
    ["EADDRINUSE", "ADDRESS_IN_USE"],
    ["EPERM", "PERMISSION_DENIED"],
    ["EADDRNOTAVAIL", "ADDRESS_NOT_AVAILABLE"],
    ["ABORT_ERR", "ABORTED"],
    ["EWHAT", "UNKNOWN"],
  ])("%s → %s", (code, expected) => {
    expect(errnoCode(code)).toBe(expected);
  });

  it("is UNKNOWN without a code", () => {
    expect(errnoCode(undefined)).toBe("UNKNOWN");
  });
});

describe("describeErrno", () => {
  it("says what was being done, where, and what went wrong, in one line", () => {
    expect(describeErrno(errno("ECONNREFUSED"), at)).toEqual({
      code: "CONNECTION_REFUSED",
      message: "cannot connect to 127.0.0.1:5001: connection refused",
      hint: "check that the server is running and the host and port are right",
    });
    expect(describeErrno(errno("ENOTFOUND"), { ...at, host: "nosuch.invalid" }).message).toBe(
      "cannot resolve host nosuch.invalid",
    );
    expect(describeErrno(errno("EADDRINUSE"), { action: "listen", port: 5001 }).message).toBe(
      "port 5001 on 127.0.0.1 is already in use",
    );
    expect(describeErrno(errno("EWHAT", "odd failure"), at).message).toBe(
      "cannot connect to 127.0.0.1:5001: odd failure",
    );
  });

  it("brackets IPv6 hosts, names Unix paths and a transport, and takes a hint override", () => {
    expect(describeErrno(errno("ECONNREFUSED"), { ...at, host: "::1" }).message).toContain("[::1]:5001");
    expect(describeErrno(errno("ENOENT"), { action: "connect", path: "/tmp/x.sock" })).toMatchObject({
      code: "NO_SUCH_SOCKET",
      message: "cannot connect to unix:/tmp/x.sock: no such socket",
    });
    expect(describeErrno(errno("EADDRINUSE"), { action: "listen", port: 9, transport: "udp" }).message).toBe(
      "udp port 9 on 127.0.0.1 is already in use",
    );
    expect(describeErrno(errno("EHOSTUNREACH"), { action: "send", port: 9, transport: "udp" }).message).toBe(
      "cannot send to udp 127.0.0.1:9: host unreachable",
    );
    expect(describeErrno(errno("ECONNREFUSED"), { ...at, hint: "start it" }).hint).toBe("start it");
  });

  it("a refused Unix or abstract socket (a stale file, nobody bound) hints at the socket, not at a host and port", () => {
    for (const path of ["/tmp/x.sock", "\0netlab"]) {
      const d = describeErrno(errno("ECONNREFUSED"), { action: "connect", path });
      expect(d.hint).toBe("check that the server is running and listening on that socket");
    }
  });
});
