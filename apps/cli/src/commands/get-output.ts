// Where `lab get` writes the body: -o FILE (complete or not at all), a FIFO, or stdout, with every
// wait for a slow reader bounded by Ctrl-C or --max-time.

/**
 * Waits for `stream` to take more. A reader that stopped reading (a paused pager, a stuck FIFO)
 * must not hold `lab get` past Ctrl-C or --max-time: `signal` ends the wait with its reason.
 */
export function drained(stream: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  // A stream that already failed will never drain: fail now rather than wait forever.
  const failed = (stream as import("node:stream").Writable).errored;
  if (failed) return Promise.reject(writeError(failed));
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const done = () => {
      stream.off("drain", onDrain);
      stream.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    const onDrain = () => {
      done();
      resolve();
    };
    const onError = (err: Error) => {
      done();
      reject(writeError(err));
    };
    const onAbort = () => {
      done();
      reject(signal.reason);
    };
    stream.once("drain", onDrain);
    stream.once("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Fires after `seconds` with --max-time's REQUEST_TIMEOUT (exit 28), for a write the reader never takes. */
export function outputDeadline(seconds: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        Object.assign(new Error("operation timed out: the output was not read within --max-time"), {
          code: "REQUEST_TIMEOUT",
          hint: "whatever reads lab's output stopped reading; raise --max-time",
        }),
      ),
    Math.max(0, seconds * 1000),
  );
  timer.unref();
  return controller.signal;
}

/** curl's "failure writing output" (exit 23), saying why when the reader went away. */
export function writeError(err: Error): Error {
  const isGone = (err as NodeJS.ErrnoException).code === "EPIPE";
  return Object.assign(new Error(`cannot write the output: ${err.message}`), {
    code: "WRITE_FAILED",
    hint: isGone ? "whatever read the output stopped reading (| head?); -s leaves this line out" : undefined,
  });
}

/**
 * `-o FILE`: with `isAppend` (resume), FILE itself, appended to. Otherwise a regular file (or a new one) is written as FILE.part and renamed into place only
 * when the whole body has arrived. Anything else that exists — /dev/null, a FIFO, a symlink — is
 * written directly: renaming over it would replace the device or the link with a plain file.
 */
export type Output = Awaited<ReturnType<typeof openOutput>>;

export async function openOutput(file: string, signal: AbortSignal, { isAppend = false } = {}) {
  const fs = await import("node:fs");
  // The watch outputs' words for a path that cannot be written (a folder, a missing folder, …).
  const { cannotWrite } = await import("@netlab/watch");
  const existing = await fs.promises.lstat(file).catch(() => undefined);
  // Resuming (-C) appends to FILE itself and keeps what arrived on failure: that is the point of it.
  const isDirect = isAppend || (existing !== undefined && !existing.isFile());
  const target = isDirect ? file : `${file}.part`;
  const failed = (err: Error) => {
    const { message, hint } = cannotWrite(file, err);
    return Object.assign(new Error(message), { code: "WRITE_FAILED", hint });
  };
  const isFifo = isDirect && (await fs.promises.stat(file).catch(() => undefined))?.isFIFO() === true;
  let stream: import("node:stream").Writable;
  if (isFifo) {
    stream = await openFifo(file, signal).catch((err: Error) => {
      if (signal.aborted) throw err;
      throw failed(err);
    });
  } else {
    const fileStream = fs.createWriteStream(target, { flags: isAppend ? "a" : "w" });
    await new Promise<void>((resolve, reject) => {
      fileStream.once("open", () => resolve());
      fileStream.once("error", (err) => reject(failed(err)));
    });
    stream = fileStream;
  }
  let writeError: Error | undefined;
  stream.on("error", (err) => {
    writeError = err;
  });
  // Whatever ends lab before commit or discard (a second Ctrl-C, a closed terminal's EIO on
  // stderr, the discard grace running out) still leaves no FILE.part behind.
  const removeAtExit = () => fs.rmSync(target, { force: true });
  if (!isDirect) process.once("exit", removeAtExit);
  const closed = () =>
    stream.closed ? Promise.resolve() : new Promise<void>((resolve) => stream.once("close", () => resolve()));
  return {
    stream,
    async commit() {
      await new Promise<void>((resolve) => stream.end(() => resolve()));
      await closed();
      if (writeError) throw failed(writeError);
      if (!isDirect) await fs.promises.rename(target, file);
      process.off("exit", removeAtExit);
    },
    /** Drops what is not written yet (a reader that stopped reading must not hold it) and removes the .part. */
    async discard() {
      stream.destroy();
      await closed();
      if (!isDirect) await fs.promises.rm(target, { force: true });
      process.off("exit", removeAtExit);
    },
  };
}

/** How often `-o FIFO` looks for a reader to appear, in ms (a FIFO announces none). */
const FIFO_READER_POLL_MS = 100;

/**
 * A FIFO is opened without blocking (a blocking open waits in a pool thread for a reader, and a
 * blocked thread keeps even process.exit() from ending lab), retried until a reader comes or
 * `signal` fires, then written through the event loop as a pipe, so a reader that stops reading
 * blocks no thread either.
 */
async function openFifo(file: string, signal: AbortSignal): Promise<import("node:stream").Writable> {
  const [fs, net] = await Promise.all([import("node:fs"), import("node:net")]);
  const flags = fs.constants.O_WRONLY | fs.constants.O_NONBLOCK;
  for (;;) {
    if (signal.aborted) throw signal.reason;
    try {
      const fd = await new Promise<number>((resolve, reject) =>
        fs.open(file, flags, (err, fd) => (err ? reject(err) : resolve(fd))),
      );
      return new net.Socket({ fd, readable: false, writable: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENXIO") throw err; // ENXIO: no reader yet
    }
    await new Promise((resolve) => setTimeout(resolve, FIFO_READER_POLL_MS));
  }
}
