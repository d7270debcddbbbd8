import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The result of running one built example. */
export interface ExampleRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node examples/dist/<name>.js ARGS` (built by `tsc -b`, as `pnpm test` does first) and
 * resolves when it exits; killed after `timeoutMs`.
 */
export function runExample(name: string, args: string[] = [], timeoutMs = 20_000): Promise<ExampleRun> {
  const file = fileURLToPath(new URL(`../dist/${name}.js`, import.meta.url));
  const child = spawn(process.execPath, [file, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
