// A community channel as the page sees it: chat, presence and every other feature's events, kept
// in order by `seq` and recovered after a reconnect with the protocol's algorithm
// (docs/protocol.md, "Reconnecting: a client's algorithm"). Screens subscribe and read `state`;
// features (group buys, lottery, live, lockers) read the events they know with `onEvent` and the
// join snapshot from `state.snapshot`.
import { ApiError } from "./http";
import { type ConnectionState, type Realtime } from "./realtime";

export interface ChannelEvent {
  community_id: string;
  seq: number;
  type: string;
  data: Record<string, unknown>;
  at: string;
  /** Absent on events inside a join or recover acknowledgement (the acknowledgement has it). */
  epoch?: string;
}

export interface ChatMessage {
  seq: number;
  at: string;
  user_id: string;
  name: string;
  client_msg_id: string;
  text: string;
  /** A message of ours not acknowledged yet (shown greyed, resent on reconnect). */
  pending?: boolean;
  /** A message of ours whose last attempt failed: the error code; resend offers itself. */
  failed?: string;
}

export interface Member {
  user_id: string;
  name: string;
}

interface PresencePage {
  online: Member[];
  count: number;
  more: boolean;
}

export interface Snapshot {
  epoch: string;
  seq: number;
  presence: PresencePage;
  chat: { recent: ChatMessage[]; muted_until: string | null };
  [feature: string]: unknown;
}

interface JoinAck {
  role: string;
  epoch: string;
  seq: number;
  recovered?: boolean;
  events?: ChannelEvent[];
  more?: boolean;
  snapshot?: Snapshot;
  presence?: PresencePage;
}

/** What the connection banner says: `recovered` after a reconnect that filled the gap. */
export type FeedConnection = "connecting" | "online" | "offline" | "reconnecting" | "recovered" | "refused";

export interface ChannelState {
  joined: boolean;
  role: string | null;
  /** Oldest first; our unacknowledged messages last. */
  messages: ChatMessage[];
  online: Map<string, string>;
  mutedUntil: string | null;
  snapshot: Snapshot | null;
  // The three below are always set by ChannelFeed; optional so that a screen's own "no feed yet"
  // placeholder state need not spell them out.
  /** Whether `chat:history` may hold older messages than the oldest shown. */
  hasOlder?: boolean;
  connection?: FeedConnection;
  /** The join's refusal (e.g. `not_a_member`), or null. */
  joinError?: string | null;
  /** How many times the channel was recovered after a reconnect without a fresh snapshot. */
  recoveries: number;
}

// Enough to scroll back a good while; beyond it the oldest live messages are dropped from memory
// (history pages them back in on demand).
const KEEP_MESSAGES = 2_000;
const HISTORY_PAGE = 50;
const PRESENCE_PAGE = 500;
let sent = 0;

function newClientMsgId(): string {
  sent += 1;
  return `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${sent}`;
}

export class ChannelFeed {
  private epoch: string | null = null;
  private seq = 0;
  private recovering = false;
  private joining: Promise<void> | null = null;
  private wasDisconnected = false;
  private held: ChannelEvent[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<(event: ChannelEvent) => void>();
  private readonly unacked = new Map<string, string>();
  private stops: Array<() => void> = [];
  private started: Promise<void> | null = null;
  state: ChannelState = {
    joined: false,
    role: null,
    messages: [],
    online: new Map(),
    mutedUntil: null,
    snapshot: null,
    hasOlder: true,
    connection: "connecting",
    joinError: null,
    recoveries: 0,
  };

  constructor(
    private readonly rt: Realtime,
    readonly communityId: string,
    /** The signed-in user: tells our own messages (and mutes) from others'. */
    readonly me: string = "",
  ) {}

  start(): Promise<void> {
    this.started ??= this.listen();
    return this.started;
  }

  private async listen(): Promise<void> {
    this.stops.push(this.rt.onState((state) => this.connectionChanged(state)));
    this.stops.push(await this.rt.on<ChannelEvent>("channel:event", (event) => this.receive(event)));
    this.stops.push(await this.rt.onConnect(() => void this.join()));
  }

  stop(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
    this.started = null;
    void this.rt.request("channel:leave", { community_id: this.communityId }).catch(() => undefined);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onEvent(listener: (event: ChannelEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** An acknowledged command on the channel's namespace (group buys, lottery, reports). */
  request<T>(event: string, payload: Record<string, unknown>): Promise<T> {
    return this.rt.request<T>(event, { community_id: this.communityId, ...payload });
  }

  /** Send a chat message; resent with the same id after a reconnect until acknowledged. */
  send(text: string): Promise<void> {
    const clientMsgId = newClientMsgId();
    this.unacked.set(clientMsgId, text);
    this.update({
      messages: [
        ...this.state.messages,
        { seq: Number.MAX_SAFE_INTEGER, at: new Date().toISOString(), user_id: this.me, name: "", client_msg_id: clientMsgId, text, pending: true },
      ],
    });
    return this.deliver(clientMsgId, text);
  }

  /** Send a failed message again, with its first id (the server stores it once). */
  resend(clientMsgId: string): Promise<void> {
    const text = this.unacked.get(clientMsgId);
    if (text === undefined) return Promise.resolve();
    this.mark(clientMsgId, { failed: undefined });
    return this.deliver(clientMsgId, text);
  }

  private async deliver(clientMsgId: string, text: string): Promise<void> {
    // Not while the channel is being (re)joined: the join resends every unacknowledged message
    // once it is done, and a send before it would only be answered `not_joined`.
    const connection = this.state.connection;
    if (!this.state.joined || connection === "offline" || connection === "reconnecting" || connection === "connecting") return;
    try {
      await this.rt.request("chat:send", { community_id: this.communityId, client_msg_id: clientMsgId, text });
      this.unacked.delete(clientMsgId);
    } catch (error) {
      const code = error instanceof ApiError ? error.code : "unknown";
      if (code === "muted" && error instanceof ApiError) {
        const until = (error.details as { until?: string } | null)?.until;
        if (until) this.update({ mutedUntil: until });
      }
      // Still in `unacked` while the outcome is unknown: a reconnect resends it by itself.
      this.mark(clientMsgId, { failed: code });
    }
  }

  private mark(clientMsgId: string, patch: Partial<ChatMessage>): void {
    this.update({
      messages: this.state.messages.map((m) => (m.pending && m.client_msg_id === clientMsgId ? { ...m, ...patch } : m)),
    });
  }

  /** Older messages than the oldest held, from PostgreSQL's archive; false when none are left. */
  async loadOlder(): Promise<boolean> {
    const oldest = this.state.messages.find((m) => !m.pending);
    const ack = await this.rt.request<{ messages: ChatMessage[]; next_before_seq: number | null }>("chat:history", {
      community_id: this.communityId,
      ...(oldest ? { before_seq: oldest.seq } : {}),
      limit: HISTORY_PAGE,
    });
    const known = new Set(this.state.messages.map((m) => m.seq));
    const older = ack.messages.filter((m) => !known.has(m.seq)).reverse();
    const hasOlder = ack.next_before_seq !== null;
    this.update({ messages: [...older, ...this.state.messages], hasOlder });
    return hasOlder;
  }

  private connectionChanged(state: ConnectionState): void {
    if (state === "offline") {
      if (this.state.joined) this.wasDisconnected = true;
      this.update({ connection: "offline" });
    } else if (state === "refused") {
      this.update({ connection: "refused" });
    } else if (state === "online") {
      this.update({ connection: this.wasDisconnected ? "reconnecting" : "connecting" });
    }
  }

  private join(): Promise<void> {
    // One join at a time: a reconnect during a join waits for it, then joins with its `since`.
    const previous = this.joining ?? Promise.resolve();
    const next = previous.then(() => this.joinOnce()).catch((error: unknown) => {
      this.update({ joinError: error instanceof ApiError ? error.code : "unknown" });
    });
    this.joining = next;
    return next;
  }

  private async joinOnce(): Promise<void> {
    const since = this.epoch ? { since: { seq: this.seq, epoch: this.epoch } } : {};
    this.recovering = true;
    try {
      const ack = await this.rt.request<JoinAck>("channel:join", { community_id: this.communityId, ...since });
      if (ack.recovered && ack.events) {
        this.epoch = ack.epoch ?? this.epoch;
        for (const event of ack.events) this.apply(event);
        let more = ack.more ?? false;
        while (more) {
          const page = await this.rt.request<{ recovered: boolean; events?: ChannelEvent[]; more?: boolean }>(
            "channel:recover",
            { community_id: this.communityId, since: { seq: this.seq, epoch: this.epoch } },
          );
          if (!page.recovered) {
            this.epoch = null;
            return await this.joinOnce();
          }
          for (const event of page.events ?? []) this.apply(event);
          more = page.more ?? false;
        }
        if (ack.presence) await this.takePresence(ack.presence);
        this.update({ joined: true, role: ack.role, recoveries: this.state.recoveries + 1, joinError: null });
      } else if (ack.snapshot) {
        this.reset(ack, ack.snapshot);
        await this.takePresence(ack.snapshot.presence);
      }
    } finally {
      this.recovering = false;
    }
    for (const event of this.held.splice(0)) this.apply(event);
    this.update({ connection: this.wasDisconnected ? "recovered" : "online" });
    this.wasDisconnected = false;
    for (const [id, text] of this.unacked) {
      this.mark(id, { failed: undefined });
      void this.deliver(id, text);
    }
  }

  /** The presence page of a join, and the rest of it when there is more (ordered by user id). */
  private async takePresence(page: PresencePage): Promise<void> {
    const online = toMap(page.online);
    let more = page.more;
    let after = page.online.at(-1)?.user_id;
    while (more && after) {
      const next = await this.rt.request<{ online: Member[]; more: boolean }>("channel:presence", {
        community_id: this.communityId,
        after_user_id: after,
        limit: PRESENCE_PAGE,
      });
      for (const member of next.online) online.set(member.user_id, member.name);
      more = next.more;
      after = next.online.at(-1)?.user_id;
    }
    this.update({ online });
  }

  private reset(ack: JoinAck, snapshot: Snapshot): void {
    this.epoch = snapshot.epoch;
    this.seq = snapshot.seq;
    const recent = snapshot.chat.recent;
    // Ours that the snapshot already holds were stored meanwhile: no longer pending.
    const stored = new Set(recent.filter((m) => !this.me || m.user_id === this.me).map((m) => m.client_msg_id));
    for (const id of stored) this.unacked.delete(id);
    const pending = this.state.messages.filter((m) => m.pending && !stored.has(m.client_msg_id));
    this.update({
      joined: true,
      role: ack.role,
      snapshot,
      messages: [...recent, ...pending],
      hasOlder: recent.length > 0,
      mutedUntil: snapshot.chat.muted_until,
      joinError: null,
    });
  }

  private receive(event: ChannelEvent): void {
    if (event.community_id !== this.communityId) return;
    if (this.recovering) {
      this.held.push(event);
      return;
    }
    this.apply(event);
  }

  private apply(event: ChannelEvent): void {
    // Events inside a join or recover acknowledgement carry no `epoch`: the acknowledgement's.
    const epoch = event.epoch ?? this.epoch;
    if (this.epoch !== null && epoch !== this.epoch) {
      // History restarted (docs/protocol.md, "Epochs"): take a fresh snapshot.
      this.epoch = null;
      void this.join();
      return;
    }
    if (event.seq <= this.seq) return;
    this.seq = event.seq;
    this.epoch = epoch;
    const data = event.data;
    switch (event.type) {
      case "chat.message": {
        const message = { seq: event.seq, at: event.at, ...(data as Omit<ChatMessage, "seq" | "at">) };
        // Without `me`, our own are told by their client_msg_id alone (random: no collisions).
        const mine = this.me ? message.user_id === this.me : true;
        if (mine) this.unacked.delete(message.client_msg_id);
        const settled = this.state.messages.filter((m) => !(mine && m.pending && m.client_msg_id === message.client_msg_id));
        const pending = settled.filter((m) => m.pending);
        const confirmed = pending.length ? settled.filter((m) => !m.pending) : settled;
        const messages = [...confirmed, message, ...pending];
        this.update({ messages: messages.length > KEEP_MESSAGES ? messages.slice(-KEEP_MESSAGES) : messages });
        break;
      }
      case "chat.deleted":
        this.update({ messages: this.state.messages.filter((m) => m.pending || m.seq !== data.seq) });
        break;
      case "member.muted":
        if (data.user_id === this.me) this.update({ mutedUntil: data.until as string });
        break;
      case "member.unmuted":
        if (data.user_id === this.me) this.update({ mutedUntil: null });
        break;
      case "presence.joined":
      case "presence.left":
      case "presence.changed": {
        const online = new Map(this.state.online);
        const joined = event.type === "presence.joined" ? [data as unknown as Member] : ((data.joined as Member[] | undefined) ?? []);
        const left = event.type === "presence.left" ? [data.user_id as string] : ((data.left as string[] | undefined) ?? []);
        for (const id of left) online.delete(id);
        for (const member of joined) online.set(member.user_id, member.name);
        this.update({ online });
        break;
      }
      default:
        break;
    }
    for (const listener of this.eventListeners) listener(event);
  }

  private update(patch: Partial<ChannelState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener();
  }
}

function toMap(members: Member[]): Map<string, string> {
  return new Map(members.map((m) => [m.user_id, m.name]));
}
