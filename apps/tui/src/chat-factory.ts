import { ChatClient, type ChatEvent, ChatServer, formatEvent } from "@netlab/chat";
import type { ChatFactory, LabChatClient, LabChatServer } from "./controller.js";

/**
 * The real thing: `@netlab/chat` servers and clients over TCP on localhost. The server allows
 * address reuse, so a restart can listen on the same port while old connections linger.
 */
export const chatFactory: ChatFactory = {
  createServer: ({ host, port }) => new ChatServer({ host, port }) as unknown as LabChatServer,
  createClient: (opts) => new ChatClient(opts) as LabChatClient,
  formatEvent: (event, self) => formatEvent(event as ChatEvent, self),
};
