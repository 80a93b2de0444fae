// 扫码签到 (console): staff scan a resident's QR ticket with the camera (BarcodeDetector, where
// the browser has it) or paste / type the ticket text; POST /events/{id}/check-ins decides.
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { ApiError, http } from "../api/http";
import { events as t } from "../strings";
import { Loading, Page, useLoad } from "../ui/kit";
import { EventError } from "./parts";
import { type EventDetail, type Registration } from "./types";
import "./events.css";

interface Detector {
  detect(source: HTMLVideoElement): Promise<Array<{ rawValue: string }>>;
}
type DetectorClass = new (options: { formats: string[] }) => Detector;

function detectorClass(): DetectorClass | null {
  const found = (window as unknown as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  return found ?? null;
}

interface Outcome {
  ok: boolean;
  text: string;
}

export default function CheckInPage(): ReactNode {
  const { id = "" } = useParams();
  const [detail, error] = useLoad(() => http.get<EventDetail>(`/events/${id}`), [id]);
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);
  const lastScanned = useRef("");

  const checkIn = async (text: string): Promise<void> => {
    if (!text.trim() || busy) return;
    setBusy(true);
    setOutcome(null);
    setFailure(null);
    try {
      const done = await http.post<{ registration: Registration; points: number }>(`/events/${id}/check-ins`, { token: text.trim() });
      setOutcome({ ok: true, text: t.checkIn.done(done.registration.display_name, done.points) });
      setToken("");
    } catch (e) {
      if (e instanceof ApiError && e.code === "already_checked_in") {
        const d = e.details as { resident: string; checked_in_at: string; checked_in_by_name: string | null };
        setOutcome({ ok: false, text: t.checkIn.already(d.resident, d.checked_in_at, d.checked_in_by_name) });
      } else {
        setFailure(e);
      }
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (!scanning) return;
    const Detector = detectorClass();
    if (!Detector) return;
    const detector = new Detector({ formats: ["qr_code"] });
    let stream: MediaStream | null = null;
    let stopped = false;
    let timer = 0;
    const tick = async (): Promise<void> => {
      if (stopped || !video.current) return;
      try {
        const codes = await detector.detect(video.current);
        const text = codes[0]?.rawValue;
        // The same code stays in front of the camera for a while: scan it once.
        if (text && text !== lastScanned.current) {
          lastScanned.current = text;
          await checkIn(text);
        }
      } catch {
        // A frame the detector could not read: the next one will do.
      }
      timer = window.setTimeout(() => void tick(), 300);
    };
    void navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" } })
      .then(async (s) => {
        stream = s;
        if (stopped || !video.current) return;
        video.current.srcObject = s;
        await video.current.play();
        void tick();
      })
      .catch((e: unknown) => {
        setFailure(e instanceof ApiError ? e : new ApiError(0, "camera", String(e)));
        setScanning(false);
      });
    return () => {
      stopped = true;
      window.clearTimeout(timer);
      stream?.getTracks().forEach((track) => track.stop());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scanning]);

  const onSubmit = (e: FormEvent): void => {
    e.preventDefault();
    void checkIn(token);
  };
  if (error) {
    return (
      <Page title={t.checkIn.title}>
        <EventError error={error} />
      </Page>
    );
  }
  if (!detail) return <Loading />;
  const canScan = detectorClass() !== null && Boolean(navigator.mediaDevices);
  return (
    <Page title={`${t.checkIn.title} · ${detail.event.title}`} actions={<Link to={`/console/events/${id}`}>{t.console.registrations}</Link>}>
      <p className="muted">{t.checkIn.intro}</p>
      <section className="card event-scanner">
        {canScan ? (
          <>
            <button type="button" onClick={() => setScanning(!scanning)}>
              {scanning ? t.checkIn.stopCamera : t.checkIn.camera}
            </button>
            {scanning ? <video ref={video} muted playsInline aria-label={t.checkIn.video} /> : null}
          </>
        ) : (
          <p className="muted">{t.checkIn.noCamera}</p>
        )}
      </section>
      <form className="card form" onSubmit={onSubmit} aria-label={t.checkIn.title}>
        <label>
          {t.checkIn.token}
          <textarea value={token} rows={2} maxLength={200} autoComplete="off" spellCheck={false} onChange={(e) => setToken(e.target.value)} />
        </label>
        <div className="row">
          <button type="submit" className="primary" disabled={busy || !token.trim()}>
            {t.checkIn.submit}
          </button>
        </div>
      </form>
      {outcome ? (
        <p className={`card ${outcome.ok ? "notice" : "error"}`} role="status">
          {outcome.text}
        </p>
      ) : null}
      <EventError error={failure} />
    </Page>
  );
}
