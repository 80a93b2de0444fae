// One event for a resident (mobile): programme, place and time, seats left, my waiting-list
// position, sign up or cancel, my QR ticket once I hold a seat (and 已签到 after the door), and
// the live stream, draws and group buys it links to.
import { useEffect, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";
import QRCode from "qrcode";

import { http } from "../api/http";
import { events as t } from "../strings";
import { Loading, Page, useAction, useLoad } from "../ui/kit";
import { EventError } from "./parts";
import { linkHref, type EventDetail, type Registration } from "./types";
import "./events.css";

export default function EventPage(): ReactNode {
  const { id = "" } = useParams();
  const [detail, error, reload] = useLoad(() => http.get<EventDetail>(`/events/${id}`), [id]);
  if (error) {
    return (
      <Page title={t.title}>
        <EventError error={error} />
      </Page>
    );
  }
  if (!detail) return <Loading />;
  const { event, my_registration: mine } = detail;
  return (
    <Page title={event.title}>
      {event.status === "cancelled" ? (
        <p className="card error" role="status">
          {t.cancelledNote(event.cancel_reason)}
        </p>
      ) : null}
      <section className="card" aria-label={event.title}>
        <dl className="event-facts">
          <dt>{t.time}</dt>
          <dd>{t.span(event.starts_at, event.ends_at)}</dd>
          <dt>{t.place}</dt>
          <dd>{event.place}</dd>
          <dt>{t.capacity}</dt>
          <dd>
            {t.seatsLeft(event.seats_left, event.capacity)}
            {event.waitlist_count > 0 ? ` · ${t.waitlist(event.waitlist_count)}` : null}
          </dd>
          <dt>{t.signUpWindow}</dt>
          <dd>{t.span(event.signup_opens_at, event.signup_closes_at)}</dd>
        </dl>
        <span className={`badge ${event.status}`}>{t.status[event.status]}</span>
      </section>
      {event.programme ? (
        <section className="card" aria-labelledby="event-programme">
          <h2 id="event-programme">{t.programme}</h2>
          <p className="event-programme">{event.programme}</p>
        </section>
      ) : null}
      <MyPlace detail={detail} mine={mine} onChange={reload} />
      {detail.links.length > 0 ? (
        <section className="card" aria-labelledby="event-links">
          <h2 id="event-links">{t.links}</h2>
          <ul className="event-links">
            {detail.links.map((l) => (
              <li key={`${l.kind}:${l.target_id}`}>
                <span className="tag">{t.linkKinds[l.kind]}</span>
                <Link to={linkHref(l, event.community_id)}>{l.title ?? t.untitled}</Link>
                {l.status ? <span className="muted"> · {t.linkStatus[l.status] ?? l.status}</span> : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </Page>
  );
}

function MyPlace({ detail, mine, onChange }: { detail: EventDetail; mine: Registration | null; onChange: () => void }): ReactNode {
  const { event } = detail;
  const [usePrivilege, setUsePrivilege] = useState(false);
  const active = mine && mine.status !== "cancelled";
  const [signUp, signing, signError] = useAction(async () => {
    await http.post(`/events/${event.id}/registrations`, { use_privilege: usePrivilege });
    onChange();
  });
  const [cancel, cancelling, cancelError] = useAction(async () => {
    if (!window.confirm(t.cancelConfirm)) return;
    await http.post(`/events/${event.id}/registrations/me/cancel`);
    onChange();
  });
  const open = event.status === "published";
  return (
    <section className="card event-actions" aria-label={t.signUp}>
      {active ? (
        <p>
          <span className={`badge ${mine.status}`}>{t.mine[mine.status]}</span>{" "}
          {mine.status === "waitlisted" && mine.waitlist_position ? t.position(mine.waitlist_position) : null}
          {mine.priority ? <span className="tag">{t.priority}</span> : null}
        </p>
      ) : null}
      {active && mine.status === "confirmed" ? <Ticket registration={mine} /> : null}
      {open && !active ? (
        <>
          {event.seats_left === 0 && detail.privileges > 0 ? (
            <label>
              <input type="checkbox" checked={usePrivilege} onChange={(e) => setUsePrivilege(e.target.checked)} />
              {t.usePrivilege(detail.privileges)}
            </label>
          ) : null}
          <button type="button" className="primary" disabled={signing} onClick={() => void signUp()}>
            {event.seats_left > 0 ? t.signUp : t.joinWaitlist}
          </button>
        </>
      ) : null}
      {open && active && !mine.checked_in_at ? (
        <button type="button" className="danger" disabled={cancelling} onClick={() => void cancel()}>
          {t.cancel}
        </button>
      ) : null}
      <EventError error={signError ?? cancelError} />
    </section>
  );
}

function Ticket({ registration }: { registration: Registration }): ReactNode {
  const [image, setImage] = useState<string>("");
  const token = registration.ticket ?? "";
  useEffect(() => {
    let live = true;
    if (token) {
      void QRCode.toDataURL(token, { errorCorrectionLevel: "M", margin: 2, width: 240 }).then((url) => live && setImage(url));
    }
    return () => {
      live = false;
    };
  }, [token]);
  if (registration.checked_in_at) {
    return (
      <div className="event-ticket">
        <p className="event-checked" role="status">
          {t.checkedIn}
        </p>
        <p className="muted">{t.checkedInAt(registration.checked_in_at)}</p>
        <p className="muted">
          {t.pointsHint} <Link to="/me/points">{t.pointsLink}</Link>
        </p>
      </div>
    );
  }
  return (
    <div className="event-ticket" aria-labelledby="event-ticket-title">
      <h2 id="event-ticket-title">{t.ticketTitle}</h2>
      {image ? <img src={image} alt={t.ticketAlt} width={240} height={240} /> : <Loading />}
      <p className="muted">{t.ticketHint}</p>
      <details>
        <summary>{t.ticketText}</summary>
        <code data-testid="event-ticket">{token}</code>
      </details>
    </div>
  );
}
