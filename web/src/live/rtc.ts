// WebRTC over the channel socket (docs/protocol.md, "WebRTC signalling"). The host's browser
// offers its camera to the node's relay (`live:publish`); a viewer's browser answers the relay's
// offer (`live:watch`, `live:answer`). The node's candidates are all in its SDP; ours trickle with
// `live:candidate`, held back until the node has the connection they belong to (it answers
// `no_connection` before that).
import { type Realtime } from "../api/realtime";

export interface PinnedItem {
  kind: "listing" | "group_buy";
  id: string;
}

/** A stream as the channel knows it (`live.started`, the join snapshot, `live:start`). */
export interface LiveSession {
  session_id: string;
  host_id: string;
  host_name: string;
  title: string;
  announcement_id: string | null;
  media_node: string;
  pinned: PinnedItem[];
  viewers: number;
  started_at?: string;
}

export type Role = "publisher" | "viewer";

// No STUN or TURN of the browser's own: the node's address is in its SDP and the node learns the
// browser's address from its connectivity checks (peer-reflexive), so host candidates suffice
// wherever the node is reachable (docs/live.md, "ICE configuration").
const CONFIG: RTCConfiguration = { iceServers: [] };

export function webrtcSupported(): boolean {
  return typeof RTCPeerConnection !== "undefined";
}

/** One peer connection to the relay and the candidates it gathers. `candidateEvent` and `key`
 * say how its candidates go out and which stream they belong to: a community's session here, a
 * course's lesson in courses/rtc.ts (docs/courses.md). */
export abstract class RelayPeer {
  readonly pc = new RTCPeerConnection(CONFIG);
  private held: Array<RTCIceCandidateInit | null> = [];
  private open = false;

  constructor(
    protected readonly rt: Realtime,
    private readonly candidateEvent: string,
    private readonly key: Record<string, string>,
    private readonly role: Role,
  ) {
    this.pc.addEventListener("icecandidate", (event) => {
      this.trickle(event.candidate ? event.candidate.toJSON() : null);
    });
  }

  /** The connection's state as the page shows it: "connecting", "connected", "failed", … */
  onState(listener: (state: RTCPeerConnectionState) => void): () => void {
    const handler = (): void => listener(this.pc.connectionState);
    this.pc.addEventListener("connectionstatechange", handler);
    return () => this.pc.removeEventListener("connectionstatechange", handler);
  }

  private trickle(candidate: RTCIceCandidateInit | null): void {
    if (!this.open) {
      this.held.push(candidate);
      return;
    }
    void this.rt
      .request(this.candidateEvent, {
        ...this.key,
        role: this.role,
        candidate: candidate === null ? null : { candidate: candidate.candidate ?? "", sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null },
      })
      .catch((error: unknown) => {
        // A lost candidate only narrows ICE's choice; the node has its own and learns ours
        // from our checks. Worth a line in the console, not an error on the screen.
        console.warn(`${this.candidateEvent} refused`, error);
      });
  }

  /** The node holds the connection now: send what was gathered meanwhile, then the rest live. */
  protected release(): void {
    this.open = true;
    for (const candidate of this.held.splice(0)) this.trickle(candidate);
  }

  close(): void {
    this.pc.close();
  }
}

/** A peer of a community's stream. */
abstract class LivePeer extends RelayPeer {
  constructor(
    rt: Realtime,
    readonly communityId: string,
    readonly sessionId: string,
    role: Role,
  ) {
    super(rt, "live:candidate", { community_id: communityId, session_id: sessionId }, role);
  }
}

/** The host's browser sending its camera and microphone to the relay. */
export class LivePublisher extends LivePeer {
  constructor(rt: Realtime, communityId: string, sessionId: string, stream: MediaStream) {
    super(rt, communityId, sessionId, "publisher");
    for (const track of stream.getTracks()) this.pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  }

  /** Offer, get the node's answer. `restart`: this replaces an earlier connection of ours
   * (ICE restart, docs/live.md): the node keeps the viewers and feeds them from this one. */
  async publish(restart = false): Promise<void> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const offer = this.pc.localDescription;
    if (!offer) throw new Error("no local offer");
    const answer = await this.rt.request<{ type: RTCSdpType; sdp: string }>(
      "live:publish",
      { community_id: this.communityId, session_id: this.sessionId, type: "offer", sdp: offer.sdp, ice_restart: restart },
      20_000,
    );
    await this.pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    this.release();
  }
}

/** A viewer's browser receiving the relayed stream. */
export class LiveViewer extends LivePeer {
  private readonly stream = new MediaStream();

  constructor(rt: Realtime, communityId: string, sessionId: string) {
    super(rt, communityId, sessionId, "viewer");
    this.pc.addEventListener("track", (event) => this.stream.addTrack(event.track));
  }

  /** Ask for the relay's offer and answer it; resolves with the stream (tracks arrive in it as
   * they are negotiated) and the viewer count the node reported. */
  async watch(restart = false): Promise<{ stream: MediaStream; viewers: number }> {
    const offer = await this.rt.request<{ type: RTCSdpType; sdp: string; viewers: number }>(
      "live:watch",
      { community_id: this.communityId, session_id: this.sessionId, ice_restart: restart },
      20_000,
    );
    await this.pc.setRemoteDescription({ type: offer.type, sdp: offer.sdp });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    const answer = this.pc.localDescription;
    if (!answer) throw new Error("no local answer");
    await this.rt.request("live:answer", { community_id: this.communityId, session_id: this.sessionId, type: "answer", sdp: answer.sdp });
    this.release();
    return { stream: this.stream, viewers: offer.viewers };
  }

  /** Stop watching: tell the node (so the count drops now, not at ICE's timeout) and hang up. */
  leave(): void {
    void this.rt.request("live:leave", { community_id: this.communityId, session_id: this.sessionId }).catch(() => undefined);
    this.close();
  }
}
