import { StreamRequestHandler } from "./stream-handler.js";

/**
 * The classic first server: each line comes back as it was sent.
 * @example new TCPServer({ port: 0 }, EchoHandler)
 */
export class EchoHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile) await this.wfile.write(`${line}\n`);
  }
}

/**
 * Each line comes back upper-cased.
 * @example new TCPServer({ port: 0 }, UpperHandler)
 */
export class UpperHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile) await this.wfile.write(`${line.toUpperCase()}\n`);
  }
}
