// The socket to the real-time node (docs/protocol.md). One connection per page and namespace,
// opened on first use; the handshake is authenticated by the session cookie the REST process set
// (the page never sees a token). Every command is an acknowledged emit: `{ok: true, ...}` or an
// ApiError with the protocol's error code.
import { io, type Socket } from "socket.io-client";

import { ApiError, http, renewSession } from "./http";

export interface ClientConfig {
  rt_url: string;
}

let config: Promise<ClientConfig> | null = null;

export function clientConfig(): Promise<ClientConfig> {
  config ??= http.get<ClientConfig>("/client-config").catch((error: unknown) => {
    config = null;
    throw error;
  });
  return config;
}

type Ack = { ok: true } & Record<string, unknown>;
type Nack = { ok: false; error: { code: string; message: string; details?: unknown } };

const RENEWABLE_AT_HANDSHAKE = new Set(["unauthenticated", "invalid_token", "token_expired"]);

export type ConnectionState = "connecting" | "online" | "offline" | "refused";

export class Realtime {
  private socket: Socket | null = null;
  private renewedAt = 0;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  state: ConnectionState = "connecting";

  constructor(private readonly namespace: string = "/") {}

  /** The connected socket.io client (created on first call). */
  async connect(): Promise<Socket> {
    if (this.socket) return this.socket;
    const { rt_url } = await clientConfig();
    if (this.socket) return this.socket;
    const socket = io(`${rt_url}${this.namespace === "/" ? "" : this.namespace}`, {
      withCredentials: true,
      // Each namespace its own connection: the cookie authenticates only the namespaces a
      // connection opens with (docs/protocol.md, "Connecting").
      forceNew: true,
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
    });
    socket.on("connect", () => this.setState("online"));
    socket.on("disconnect", () => this.setState("offline"));
    socket.on("connect_error", (error: Error & { data?: { code?: string } }) => {
      if (socket.active) {
        this.setState("offline");
        return;
      }
      // Refused at the handshake: an expired access cookie is renewed and the socket tried
      // again; a session that is over stays refused (the screens send the user to log in).
      this.setState("refused");
      const code = error.data?.code ?? "";
      const now = Date.now();
      if (RENEWABLE_AT_HANDSHAKE.has(code) && now - this.renewedAt > 30_000) {
        this.renewedAt = now;
        void renewSession().then((renewed) => {
          if (renewed && this.socket === socket) socket.connect();
        });
      }
    });
    this.socket = socket;
    return socket;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  /** An acknowledged command; resolves with the acknowledgement or throws ApiError. */
  async request<T = Ack>(event: string, payload: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    const socket = await this.connect();
    let answer: Ack | Nack;
    try {
      answer = (await socket.timeout(timeoutMs).emitWithAck(event, payload)) as Ack | Nack;
    } catch {
      throw new ApiError(0, "timeout", `${event} was not answered`);
    }
    if (!answer.ok) throw new ApiError(0, answer.error.code, answer.error.message, answer.error.details);
    return answer as T;
  }

  /** Listen to a server event; returns the function that stops listening. */
  async on<T>(event: string, handler: (payload: T) => void): Promise<() => void> {
    const socket = await this.connect();
    socket.on(event, handler);
    return () => socket.off(event, handler);
  }

  /** Called after every (re)connection, e.g. to join channels again with `since`. */
  async onConnect(handler: () => void): Promise<() => void> {
    const socket = await this.connect();
    socket.on("connect", handler);
    if (socket.connected) handler();
    return () => socket.off("connect", handler);
  }

  close(): void {
    this.socket?.disconnect();
    this.socket = null;
    this.setState("offline");
  }
}

const namespaces = new Map<string, Realtime>();

/** The page's connection to a namespace ("/" for channels, "/merchant" for the back office). */
export function realtime(namespace = "/"): Realtime {
  let client = namespaces.get(namespace);
  if (!client) {
    client = new Realtime(namespace);
    namespaces.set(namespace, client);
  }
  return client;
}

/** Close every connection (log-out). */
export function closeRealtime(): void {
  for (const client of namespaces.values()) client.close();
  namespaces.clear();
}
