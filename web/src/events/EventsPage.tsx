// 社区活动 for residents (mobile): the events of my verified community, latest first, with my
// own status in each. Loaded lazily from the Me and home pages.
import { useState, type ReactNode } from "react";
import { Link } from "react-router";

import { http } from "../api/http";
import { useSession } from "../session";
import { events as t } from "../strings";
import { Empty, Loading, Page, useLoad } from "../ui/kit";
import { EventError } from "./parts";
import { type CommunityEvent } from "./types";
import "./events.css";

export default function EventsPage(): ReactNode {
  const { communities } = useSession();
  const verified = communities.filter((c) => c.status === "verified");
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const community = verified.find((c) => c.id === chosen) ?? verified[0];
  const [list, error] = useLoad(
    () => (community ? http.get<{ items: CommunityEvent[] }>(`/communities/${community.id}/events`) : Promise.resolve({ items: [] })),
    [community?.id],
  );
  return (
    <Page title={t.title}>
      {verified.length > 1 ? (
        <label>
          {t.chooseCommunity}
          <select value={community?.id ?? ""} onChange={(e) => setChosen(e.target.value)}>
            {verified.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {!community ? <Empty>{t.noCommunity}</Empty> : null}
      <EventError error={error} />
      {community && !list && !error ? <Loading /> : null}
      {list && list.items.length === 0 && community ? <Empty>{t.empty}</Empty> : null}
      <ul className="event-list">
        {list?.items.map((e) => (
          <li key={e.id}>
            <Link className="card event-card" to={`/events/${e.id}`}>
              <h2>{e.title}</h2>
              <div className="event-meta">
                <span>{t.span(e.starts_at, e.ends_at)}</span>
                <span>{e.place}</span>
              </div>
              <div className="event-meta">
                <span className={`badge ${e.status}`}>{t.status[e.status]}</span>
                {e.status === "published" ? <span>{t.seatsLeft(e.seats_left, e.capacity)}</span> : null}
                {e.my_status ? <span className={`badge ${e.my_status}`}>{t.mine[e.my_status]}</span> : null}
              </div>
            </Link>
          </li>
        ))}
      </ul>
    </Page>
  );
}
