// A community channel as the page sees it: chat, presence and every other feature's events, kept
// in order by `seq` and recovered after a reconnect with the protocol's algorithm
// (docs/protocol.md, "Reconnecting: a client's algorithm"). Screens subscribe and read `state`;
// features (group buys, lottery, live, lockers) read the events they know with `onEvent`.
import { type Realtime } from "./realtime";

export interface ChannelEvent {
  community_id: string;
  seq: number;
  type: string;
  data: Record<string, unknown>;
  at: string;
  epoch: string;
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
}

export interface Member {
  user_id: string;
  name: string;
}

interface Snapshot {
  epoch: string;
  seq: number;
  presence: { online: Member[]; count: number; more: boolean };
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
  presence?: { online: Member[]; count: number; more: boolean };
}

export interface ChannelState {
  joined: boolean;
  role: string | null;
  messages: ChatMessage[];
  online: Map<string, string>;
  mutedUntil: string | null;
  snapshot: Snapshot | null;
  /** How many times the channel was recovered after a reconnect without a fresh snapshot. */
  recoveries: number;
}

const KEEP_MESSAGES = 500;
let sent = 0;

export class ChannelFeed {
  private epoch: string | null = null;
  private seq = 0;
  private recovering = false;
  private held: ChannelEvent[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<(event: ChannelEvent) => void>();
  private readonly unacked = new Map<string, string>();
  private stops: Array<() => void> = [];
  state: ChannelState = {
    joined: false,
    role: null,
    messages: [],
    online: new Map(),
    mutedUntil: null,
    snapshot: null,
    recoveries: 0,
  };

  constructor(
    private readonly rt: Realtime,
    readonly communityId: string,
  ) {}

  async start(): Promise<void> {
    this.stops.push(await this.rt.on<ChannelEvent>("channel:event", (event) => this.receive(event)));
    this.stops.push(await this.rt.onConnect(() => void this.join()));
  }

  stop(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
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

  /** Send a chat message; resent with the same id after a reconnect until acknowledged. */
  async send(text: string): Promise<void> {
    sent += 1;
    const clientMsgId = `m-${Date.now()}-${sent}`;
    this.unacked.set(clientMsgId, text);
    this.update({
      messages: [
        ...this.state.messages,
        { seq: Number.MAX_SAFE_INTEGER, at: new Date().toISOString(), user_id: "", name: "", client_msg_id: clientMsgId, text, pending: true },
      ],
    });
    await this.deliver(clientMsgId, text);
  }

  private async deliver(clientMsgId: string, text: string): Promise<void> {
    await this.rt.request("chat:send", { community_id: this.communityId, client_msg_id: clientMsgId, text });
    this.unacked.delete(clientMsgId);
  }

  /** Older messages than the oldest held, from PostgreSQL's archive. */
  async loadOlder(): Promise<boolean> {
    const oldest = this.state.messages.find((m) => !m.pending);
    const ack = await this.rt.request<{ messages: ChatMessage[]; next_before_seq: number | null }>("chat:history", {
      community_id: this.communityId,
      ...(oldest ? { before_seq: oldest.seq } : {}),
      limit: 50,
    });
    const known = new Set(this.state.messages.map((m) => m.seq));
    const older = ack.messages.filter((m) => !known.has(m.seq)).reverse();
    this.update({ messages: [...older, ...this.state.messages] });
    return ack.next_before_seq !== null;
  }

  private async join(): Promise<void> {
    const since = this.epoch ? { since: { seq: this.seq, epoch: this.epoch } } : {};
    this.recovering = true;
    try {
      const ack = await this.rt.request<JoinAck>("channel:join", { community_id: this.communityId, ...since });
      if (ack.recovered && ack.events) {
        for (const event of ack.events) this.apply(event);
        let more = ack.more ?? false;
        while (more) {
          const page = await this.rt.request<{ recovered: boolean; events?: ChannelEvent[]; more?: boolean }>(
            "channel:recover",
            { community_id: this.communityId, since: { seq: this.seq, epoch: this.epoch } },
          );
          if (!page.recovered) {
            this.epoch = null;
            this.recovering = false;
            return this.join();
          }
          for (const event of page.events ?? []) this.apply(event);
          more = page.more ?? false;
        }
        if (ack.presence) this.update({ online: toMap(ack.presence.online) });
        this.update({ joined: true, role: ack.role, recoveries: this.state.recoveries + 1 });
      } else if (ack.snapshot) {
        this.reset(ack, ack.snapshot);
      }
    } finally {
      this.recovering = false;
    }
    for (const event of this.held.splice(0)) this.apply(event);
    for (const [id, text] of this.unacked) void this.deliver(id, text).catch(() => undefined);
  }

  private reset(ack: JoinAck, snapshot: Snapshot): void {
    this.epoch = snapshot.epoch;
    this.seq = snapshot.seq;
    const pending = this.state.messages.filter((m) => m.pending);
    this.update({
      joined: true,
      role: ack.role,
      snapshot,
      messages: [...snapshot.chat.recent, ...pending],
      online: toMap(snapshot.presence.online),
      mutedUntil: snapshot.chat.muted_until,
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
    if (this.epoch !== null && event.epoch !== this.epoch) {
      // History restarted (docs/protocol.md, "Epochs"): take a fresh snapshot.
      this.epoch = null;
      void this.join();
      return;
    }
    if (event.seq <= this.seq) return;
    this.seq = event.seq;
    this.epoch = event.epoch;
    const data = event.data;
    switch (event.type) {
      case "chat.message": {
        const message = { seq: event.seq, at: event.at, ...(data as Omit<ChatMessage, "seq" | "at">) };
        const rest = this.state.messages.filter((m) => !(m.pending && m.client_msg_id === message.client_msg_id));
        this.update({ messages: [...rest, message].slice(-KEEP_MESSAGES) });
        break;
      }
      case "chat.deleted":
        this.update({ messages: this.state.messages.filter((m) => m.seq !== data.seq) });
        break;
      case "presence.joined":
      case "presence.left":
      case "presence.changed": {
        const online = new Map(this.state.online);
        const joined = event.type === "presence.joined" ? [data as unknown as Member] : ((data.joined as Member[]) ?? []);
        const left = event.type === "presence.left" ? [data.user_id as string] : ((data.left as string[]) ?? []);
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
