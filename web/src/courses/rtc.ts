// A live class over the socket (docs/courses.md): the same relay and the same peer as community
// streams (live/rtc.ts, `RelayPeer`), signalled with `class:*` events keyed by the lesson. The node
// refuses `class:watch` to anyone not enrolled (`not_enrolled`) before it builds a connection.
import { type Realtime } from "../api/realtime";
import { RelayPeer, type Role } from "../live/rtc";

/** A peer of a lesson's class: the relay's peer with candidates keyed by the lesson. */
abstract class ClassPeer extends RelayPeer {
  constructor(
    rt: Realtime,
    readonly lessonId: string,
    role: Role,
  ) {
    super(rt, "class:candidate", { lesson_id: lessonId }, role);
  }
}

/** The teacher's camera and microphone to the relay (which records them). */
export class ClassPublisher extends ClassPeer {
  constructor(rt: Realtime, lessonId: string, stream: MediaStream) {
    super(rt, lessonId, "publisher");
    for (const track of stream.getTracks()) this.pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  }

  async publish(): Promise<void> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const offer = this.pc.localDescription;
    if (!offer) throw new Error("no local offer");
    const answer = await this.rt.request<{ type: RTCSdpType; sdp: string }>("class:publish", { lesson_id: this.lessonId, type: "offer", sdp: offer.sdp }, 20_000);
    await this.pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    this.release();
  }
}

/** An enrolled resident's browser receiving the class. */
export class ClassViewer extends ClassPeer {
  private readonly stream = new MediaStream();

  constructor(rt: Realtime, lessonId: string) {
    super(rt, lessonId, "viewer");
    this.pc.addEventListener("track", (event) => this.stream.addTrack(event.track));
  }

  async watch(): Promise<MediaStream> {
    const offer = await this.rt.request<{ type: RTCSdpType; sdp: string }>("class:watch", { lesson_id: this.lessonId }, 20_000);
    await this.pc.setRemoteDescription({ type: offer.type, sdp: offer.sdp });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    const answer = this.pc.localDescription;
    if (!answer) throw new Error("no local answer");
    await this.rt.request("class:answer", { lesson_id: this.lessonId, type: "answer", sdp: answer.sdp });
    this.release();
    return this.stream;
  }

  leave(): void {
    void this.rt.request("class:leave", { lesson_id: this.lessonId }).catch(() => undefined);
    this.close();
  }
}
