// The seam between one node's hub and the rest of a cluster. The hub publishes what happens in a
// room (a message, a join, a leave, a nick change) and a backend gives every event back, in the one
// order all nodes see, through BackendSink.deliver. @netlab/chat-redis implements it on Redis
// Streams; a hub without a backend never touches this file's types at run time.

/** What happens in a room, as a node publishes it. `sid` is the publishing session's id on its node. */
export type RoomEvent =
  | { type: "message"; room: string; from: string; text: string; action?: boolean; ts: number; sid: number }
  | { type: "join"; room: string; nick: string; ts: number; sid: number }
  | { type: "leave"; room: string; nick: string; ts: number; sid: number; reason?: string }
  | { type: "nick"; room: string; from: string; to: string; ts: number; sid: number };

/** A room event as the cluster ordered it: who published it and where it sits in the room's stream. */
export type DeliveredEvent = RoomEvent & {
  /** The node that published it. */
  node: string;
  /** The event's position in its room's stream (Redis: `1700000000000-0`); absent while degraded. */
  streamId?: string;
};

/** A private message to one nick, wherever in the cluster it is. */
export interface PrivateEvent {
  from: string;
  to: string;
  text: string;
  ts: number;
}

/** One live node of the cluster, for `/nodes`. */
export interface NodeInfo {
  id: string;
  clients: number;
  /** This node. */
  self: boolean;
}

/** The events after a client's last seen id, or that the stream no longer holds them all. */
export interface CatchUp {
  events: DeliveredEvent[];
  /** The room's stream was trimmed past the id: some events in between are gone. */
  isGap: boolean;
}

/** The reclaim-token hashes (SHA-256, hex) a nick claim carries; the tokens themselves never leave the hub. */
export interface NickToken {
  /** The hash of the token granted with this claim, stored with the nick (absent: none, a guest or text client). */
  hash?: string;
  /** The hash of the token the client offered: takes the nick over when it matches the stored one. */
  proof?: string;
}

/** A nick `claimNick` took over from a session on another node (its token matched). */
export interface ReclaimedNick {
  /** The node that held it; it drops its session when it learns (`BackendSink.reclaimed`). */
  node: string;
  /** The nick as that node held it. */
  nick: string;
  /** The room its session was in there, if any: the new holder announces that session's leave. */
  room?: string;
}

/** How a backend hands the cluster's events to its hub. */
export interface BackendSink {
  /** One room event, in cluster order, for the hub's local members of `event.room`. */
  deliver(event: DeliveredEvent): void;
  /** A private message for a nick on this node. */
  deliverPrivate(event: PrivateEvent): void;
  /** The link to the cluster broke (`degraded`) or came back; `reason` is one line for people. */
  status(state: { isDegraded: boolean; reason: string }): void;
  /**
   * A backend that can lose room events (Redis Pub/Sub) found `count` of `node`'s events in `room`
   * missing (a gap in its sequence numbers): the room's members are told, never left to guess.
   */
  lost(gap: { room: string; count: number; node: string }): void;
  /**
   * Another node took `nick` over from this one with its reclaim token: the local session holding
   * it is closed, without a leave (the new holder announced it).
   */
  reclaimed(nick: string): void;
}

/**
 * A cluster backend for `ChatHub`: rooms span nodes, nicks are unique across them. Every method but
 * `start` and `close` is called by the hub only, after `start`.
 */
export interface ChatBackend {
  /** This node's id, unique in the cluster. */
  readonly nodeId: string;
  /** Connects and registers the node; rejects with a clear error (unreachable, auth, duplicate id). */
  start(sink: BackendSink): Promise<void>;
  /**
   * Starts following `room` on this node: resolves with its last `count` messages, oldest first,
   * and from then on every event of the room reaches `deliver`, none missed in between.
   */
  openRoom(room: string, count: number): Promise<DeliveredEvent[]>;
  /** The node has no member in `room` any more: stop following it. */
  closeRoom(room: string): void;
  /**
   * Publishes `event` to its room. Resolves once it was delivered here (so the sender's next line
   * is answered after it); rejects when the cluster link is down and the outgoing buffer is full.
   */
  publish(event: RoomEvent): Promise<void>;
  /**
   * Takes `nick` cluster-wide for this node (`previous` is freed), storing `token.hash`; rejects
   * NICK_TAKEN when held elsewhere, unless `token.proof` matches the holder's stored hash: then the
   * nick moves here at once, the old node is told, and the answer says whose it was.
   */
  claimNick(nick: string, previous?: string, token?: NickToken): Promise<ReclaimedNick | undefined>;
  /** Frees `nick` cluster-wide, if this node holds it. */
  releaseNick(nick: string): void;
  /** A guest number no node has given out. */
  guestNumber(): number;
  /** Everyone in `room`, on every live node. */
  who(room: string): Promise<string[]>;
  /** The rooms with members on any live node, and how many. */
  rooms(): Promise<{ name: string; clients: number }[]>;
  /** The live nodes. */
  nodes(): Promise<NodeInfo[]>;
  /** Sends a private message to `event.to` on whichever node holds the nick; false when no node does. */
  sendPrivate(event: PrivateEvent): Promise<boolean>;
  /** The room's events after `sinceId`, at most `max` (the newest), and whether some are gone. */
  catchUp(room: string, sinceId: string, max: number): Promise<CatchUp>;
  /** Leaves the cluster: this node's nicks and members are removed, connections closed. */
  close(): Promise<void>;
}

/**
 * Orders two stream ids (`MS-SEQ`, as Redis writes them): negative, 0 or positive.
 * @example compareStreamIds("1700000000000-9", "1700000000000-10") // → -1
 */
export function compareStreamIds(a: string, b: string): number {
  const ad = a.indexOf("-");
  const bd = b.indexOf("-");
  // "MS" alone is MS-0, as Redis reads it.
  if (ad < 0 || bd < 0) return compareStreamIds(ad < 0 ? `${a}-0` : a, bd < 0 ? `${b}-0` : b);
  // Decimal strings without leading zeros: the longer is larger, else they compare digit by digit.
  // Compared in place: a cluster node compares ids for every message it reads, and slices add up.
  return compareDecimal(a, 0, ad, b, 0, bd) || compareDecimal(a, ad + 1, a.length, b, bd + 1, b.length);
}

/** `a[aFrom, aTo)` against `b[bFrom, bTo)`, both decimal without leading zeros. */
function compareDecimal(
  a: string,
  aFrom: number,
  aTo: number,
  b: string,
  bFrom: number,
  bTo: number,
): number {
  const length = aTo - aFrom;
  if (length !== bTo - bFrom) return length < bTo - bFrom ? -1 : 1;
  for (let i = 0; i < length; i++) {
    const d = a.charCodeAt(aFrom + i) - b.charCodeAt(bFrom + i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
