import getPort from "get-port";
import { describe, expect, it } from "vitest";
import { connect, EchoHandler, NetworkError, toNetworkError } from "../src/index.js";
import { LineClient, serve } from "./helpers.js";

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code} (from node)`), { code });
}

describe("connect", () => {
  it("resolves with a connected socket", async () => {
    const { port } = await serve(EchoHandler);
    const socket = await connect({ port });
    const client = LineClient.fromSocket(socket);
    client.send("hi");
    expect(await client.readLine()).toBe("hi");
  });

  it("rejects with CONNECTION_REFUSED in one line when nothing listens", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const err = await connect({ port, timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({
      code: "CONNECTION_REFUSED",
      message: `cannot connect to 127.0.0.1:${port}: connection refused`,
    });
    expect((err as NetworkError).errno).toBe("ECONNREFUSED");
    expect((err as NetworkError).hint).toBeTruthy();
  });

  it("uses the caller's hint", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const err = await connect({ port, hint: "start it with: lab server" }).catch((e: unknown) => e);
    expect((err as NetworkError).hint).toBe("start it with: lab server");
  });

  it.each([
    [{ port: 70_000 }, "port must be an integer from 1 to 65535, got 70000"],
    [{ port: 1.5 }, "port must be an integer from 1 to 65535, got 1.5"],
    [{ port: 0 }, "port must be an integer from 1 to 65535, got 0"],
    [{ port: 5001, timeoutMs: -1 }, "timeoutMs must be a number of ms ≥ 0, got -1"],
  ])("rejects %o with a NetworkError INVALID_OPTION, not Node's RangeError", async (options, message) => {
    const err = await connect(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: "INVALID_OPTION", message });
  });

  it("rejects with ABORTED when its signal aborts", async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await connect({ port: 1, signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ABORTED" });
  });
});

describe("toNetworkError", () => {
  it.each([
    ["ECONNREFUSED", "CONNECTION_REFUSED", "cannot connect to 127.0.0.1:5001: connection refused"],
    ["ECONNRESET", "CONNECTION_RESET", "connection to 127.0.0.1:5001 was reset by the peer"],
    ["ETIMEDOUT", "CONNECT_TIMEOUT", "cannot connect to 127.0.0.1:5001: timed out"],
    ["EHOSTUNREACH", "HOST_UNREACHABLE", "cannot connect to 127.0.0.1:5001: host unreachable"],
    [
      "EADDRNOTAVAIL",
      "ADDRESS_NOT_AVAILABLE",
      "cannot connect to 127.0.0.1:5001: address not available on this machine",
    ],
    ["EWHATEVER", "UNKNOWN", "cannot connect to 127.0.0.1:5001: EWHATEVER (from node)"],
  ])("maps %s to %s", (code, expected, message) => {
    const err = toNetworkError(errno(code), { action: "connect", host: "127.0.0.1", port: 5001 });
    expect(err.code).toBe(expected);
    expect(err.message).toBe(message);
  });

  it("names the port for EADDRINUSE on listen", () => {
    const err = toNetworkError(errno("EADDRINUSE"), { action: "listen", host: "127.0.0.1", port: 5001 });
    expect(err).toMatchObject({
      code: "ADDRESS_IN_USE",
      message: "port 5001 on 127.0.0.1 is already in use",
      hint: "stop the other server or choose another --port",
    });
  });

  it("says permission denied for a low port", () => {
    const err = toNetworkError(errno("EACCES"), { action: "listen", host: "127.0.0.1", port: 80 });
    expect(err).toMatchObject({
      code: "PERMISSION_DENIED",
      message: "cannot listen on 127.0.0.1:80: permission denied",
    });
  });

  it("names the host it could not resolve", () => {
    const err = toNetworkError(errno("ENOTFOUND"), {
      action: "connect",
      host: "nosuchhost.invalid",
      port: 1,
    });
    expect(err).toMatchObject({ code: "DNS_FAILURE", message: "cannot resolve host nosuchhost.invalid" });
  });

  it("brackets IPv6 hosts and passes a NetworkError through", () => {
    const err = toNetworkError(errno("ECONNREFUSED"), { action: "connect", host: "::1", port: 7 });
    expect(err.message).toBe("cannot connect to [::1]:7: connection refused");
    expect(toNetworkError(err, { action: "connect" })).toBe(err);
  });
});
