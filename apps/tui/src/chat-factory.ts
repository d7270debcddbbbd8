import { ChatClient, type ChatEvent, ChatServer, formatEvent } from "@netlab/chat";
import { clientTrust, fingerprint, generateCertificate } from "@netlab/tls";
import type { ChatFactory, LabChatClient, LabChatServer } from "./controller.js";

/**
 * How long a client waits for the server's first line before it would fall back to plain-text
 * mode, in ms. The demo's server is always a netlab chat server, and Ink's first render can hold
 * the event loop for a few hundred ms, so the library's 300 ms default could misjudge it.
 */
export const DETECT_MS = 10_000;

/**
 * The real thing: `@netlab/chat` servers and clients over TCP on localhost. The server allows
 * address reuse, so a restart can listen on the same port while old connections linger.
 */
export const chatFactory: ChatFactory = {
  createServer: ({ host, port }) => new ChatServer({ host, port }) as unknown as LabChatServer,
  createClient: (opts) => new ChatClient({ ...opts, detectMs: DETECT_MS }) as LabChatClient,
  // The transcript is what a person reads: control characters from the network shown, not live,
  // and the room's history a joiner is replayed marked with its time, as lab client shows it.
  formatEvent: (event, self) => formatEvent(event as ChatEvent, self, { escape: true, markHistory: true }),
};

/**
 * The chat scene over TLS (`lab demo --tls`): the server gets a certificate made for this run (in
 * memory: the demo neither reads nor writes the user's identity or known_hosts), and each client
 * pins it. Clients' wire views then show the TLS records, ciphertext, while panes show plaintext.
 */
export async function createTlsChatFactory(): Promise<ChatFactory & { fingerprint: string }> {
  const { cert, key } = await generateCertificate();
  const print = fingerprint(cert);
  const trust = await clientTrust({ pin: print });
  return {
    fingerprint: print,
    createServer: ({ host, port }) =>
      new ChatServer({ host, port, tls: { cert, key } }) as unknown as LabChatServer,
    createClient: (opts) => new ChatClient({ ...opts, detectMs: DETECT_MS, tls: { trust } }) as LabChatClient,
    formatEvent: chatFactory.formatEvent,
  };
}
