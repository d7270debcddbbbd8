import { compareStreamIds } from "@netlab/chat";
import { describe, expect, it } from "vitest";
import { ClusterError, parseClusterUrl, REDIS_BACKEND_DEFAULTS, RedisBackend } from "../src/index.js";

describe("cluster options", () => {
  it("reads host and port from a redis:// URL, 6379 by default, and never shows the password", () => {
    expect(parseClusterUrl("redis://127.0.0.1:7000")).toMatchObject({
      host: "127.0.0.1",
      port: 7000,
      hasPassword: false,
    });
    expect(parseClusterUrl("redis://localhost").where).toBe("localhost:6379");
    expect(parseClusterUrl("redis://[::1]:7000").where).toBe("[::1]:7000");
    expect(parseClusterUrl("rediss://:pw@127.0.0.1:7000").hasPassword).toBe(true);
  });

  it("refuses another scheme, a non-URL and a URL without host as CLUSTER_URL_INVALID, password hidden", () => {
    for (const url of ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://"]) {
      expect(() => parseClusterUrl(url)).toThrow(ClusterError);
    }
    try {
      parseClusterUrl("http://:hunter2@127.0.0.1:6379");
    } catch (err) {
      expect((err as ClusterError).code).toBe("CLUSTER_URL_INVALID");
      expect((err as ClusterError).message).not.toContain("hunter2");
    }
  });

  it("checks the node id and the limits when the backend is made, before any connection", () => {
    expect(() => new RedisBackend({ url: "redis://127.0.0.1:1", nodeId: "a b" })).toThrow(
      /node id "a b" is not allowed/,
    );
    expect(() => new RedisBackend({ url: "redis://127.0.0.1:1", nodeId: "a", maxBufferedEvents: 0 })).toThrow(
      /maxBufferedEvents must be a positive integer/,
    );
    expect(() => new RedisBackend({ url: "redis://127.0.0.1:1", nodeId: "a", appendBatch: 0 })).toThrow(
      /appendBatch must be a positive integer/,
    );
    expect(
      () => new RedisBackend({ url: "redis://127.0.0.1:1", nodeId: "a", leaseMs: 1000, heartbeatMs: 600 }),
    ).toThrow(/at most half of leaseMs/);
    const b = new RedisBackend({ url: "redis://127.0.0.1:1" });
    expect(b.nodeId).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(b.options.maxStreamEntries).toBe(REDIS_BACKEND_DEFAULTS.maxStreamEntries);
    expect(b.options.appendBatch).toBe(256);
  });

  it("orders stream ids by time, then by sequence, past 2^53 too", () => {
    expect(compareStreamIds("1700000000000-9", "1700000000000-10")).toBe(-1);
    expect(compareStreamIds("1700000000001-0", "1700000000000-99")).toBe(1);
    expect(compareStreamIds("5-5", "5-5")).toBe(0);
    expect(compareStreamIds("1-18446744073709551615", "1-18446744073709551614")).toBe(1);
  });
});
