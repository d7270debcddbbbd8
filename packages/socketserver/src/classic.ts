import type { ProtocolError } from "@netlab/protocol";
import { StreamRequestHandler } from "./stream-handler.js";

/**
 * The classic first server: each line comes back as it was sent. A line it cannot take (over
 * 64 KiB, not UTF-8) is answered with one `ERR …` line instead of vanishing, and so is a line still
 * incomplete after `frameTimeout` ms, before the connection is closed.
 * @example new TCPServer({ port: 0 }, EchoHandler)
 */
export class EchoHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    // readFrame() rather than `for await`: no iterator result object per line, ~4% fewer
    // instructions per round trip in the echo benchmark. Both read the same frames.
    for (let line = await this.rfile.readFrame(); line !== undefined; line = await this.rfile.readFrame()) {
      await this.wfile.write(`${line}\n`);
    }
  }

  protected override async onProtocolError(err: ProtocolError): Promise<void> {
    await this.wfile.write(`ERR ${err.message}\n`);
  }

  protected override async onFrameTimeout(): Promise<void> {
    await this.wfile.write(frameTimeoutLine(this.frameTimeout));
  }
}

/**
 * Each line comes back upper-cased; a bad line gets one `ERR …` line, as with EchoHandler.
 * @example new TCPServer({ port: 0 }, UpperHandler)
 */
export class UpperHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for (let line = await this.rfile.readFrame(); line !== undefined; line = await this.rfile.readFrame()) {
      await this.wfile.write(`${line.toUpperCase()}\n`);
    }
  }

  protected override async onProtocolError(err: ProtocolError): Promise<void> {
    await this.wfile.write(`ERR ${err.message}\n`);
  }

  protected override async onFrameTimeout(): Promise<void> {
    await this.wfile.write(frameTimeoutLine(this.frameTimeout));
  }
}

/** The goodbye of a line server to a peer whose line took too long: one `ERR …` line. */
function frameTimeoutLine(ms: number): string {
  return `ERR line not completed within ${ms} ms; closing\n`;
}
