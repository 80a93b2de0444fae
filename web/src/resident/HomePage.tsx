// The first screen: plain-Chinese search, the verification state, recommendations with their
// reasons, and the community's newest listings.
import { useEffect, useState, type ReactNode } from "react";
import { Link } from "react-router";

import { http, query } from "../api/http";
import { useSession, type MyCommunity } from "../session";
import { events, resident } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { ListingCard } from "./ListingCard";
import { SearchBox } from "./SearchBox";
import { type Listing, type Page as Paged, type Recommendations } from "./types";
import { ResidentError } from "./ResidentError";
import "./resident.css";

export function HomePage(): ReactNode {
  const { communities } = useSession();
  const memberships = communities.filter((c) => c.role === "resident" || c.role === "property_staff");
  const community = memberships.find((c) => c.status === "verified");
  return (
    <Page title={community?.name ?? resident.home.title}>
      <SearchBox />
      <CommunityState communities={memberships} />
      {community ? (
        <>
          <p className="card">
            <Link to="/events">{events.homeLink}</Link>
          </p>
          <RecommendedListings />
          <LatestListings community={community} />
        </>
      ) : null}
    </Page>
  );
}

/** What stands between the resident and the market: no community, or a pending or refused request. */
function CommunityState({ communities }: { communities: MyCommunity[] }): ReactNode {
  if (communities.length === 0) {
    return (
      <p className="card notice-card">
        {resident.home.noCommunity} <Link to="/communities">{resident.home.joinCommunity}</Link>
      </p>
    );
  }
  const waiting = communities.filter((c) => c.status !== "verified");
  return waiting.map((c) => (
    <p key={c.id} className={`card notice-card ${c.status}`}>
      <span className={`badge ${c.status}`}>{resident.me.verification[c.status] ?? c.status}</span>{" "}
      {c.status === "rejected" ? resident.home.rejected(c.name) : resident.home.pending(c.name)}
      {c.status === "rejected" ? (
        <>
          {" "}
          <Link to="/communities">{resident.home.joinCommunity}</Link>
        </>
      ) : null}
    </p>
  ));
}

function RecommendedListings(): ReactNode {
  const [recs, error] = useLoad(() => http.get<Recommendations>("/recommendations?limit=6"), []);
  if (error) return <ResidentError error={error} />;
  if (!recs || recs.items.length === 0) return null;
  return (
    <section aria-labelledby="recommended">
      <h2 id="recommended">{resident.home.recommended}</h2>
      {recs.cold_start ? <p className="muted small">{resident.home.coldStart}</p> : null}
      <div className="grid">
        {recs.items.map((r) => (
          <ListingCard key={r.listing.id} listing={r.listing} note={r.reasons.map((x) => x.text).join(" · ")} />
        ))}
      </div>
    </section>
  );
}

function LatestListings({ community }: { community: MyCommunity }): ReactNode {
  const [first, error] = useLoad(
    () => http.get<Paged<Listing>>(`/listings${query({ community_id: community.id, limit: 20 })}`),
    [community.id],
  );
  const [more, setMore] = useState<Listing[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  useEffect(() => {
    setMore([]);
    setCursor(first?.next_cursor ?? null);
  }, [first]);
  const [loadMore, busy, moreError] = useAction(async () => {
    const page = await http.get<Paged<Listing>>(`/listings${query({ community_id: community.id, limit: 20, cursor })}`);
    setMore((m) => [...m, ...page.items]);
    setCursor(page.next_cursor);
  });
  const items = [...(first?.items ?? []), ...more];
  return (
    <section aria-labelledby="latest">
      <h2 id="latest">{resident.home.latest}</h2>
      <ResidentError error={error ?? moreError} />
      {first === undefined && !error ? <Loading /> : null}
      {first && items.length === 0 ? (
        <Empty>
          {resident.home.noListings} <Link to="/publish">{resident.tabs.publish}</Link>
        </Empty>
      ) : null}
      <div className="grid">
        {items.map((listing) => (
          <ListingCard key={listing.id} listing={listing} />
        ))}
      </div>
      {cursor ? (
        <button type="button" className="secondary wide" disabled={busy} onClick={() => void loadMore()}>
          {resident.home.loadMore}
        </button>
      ) : null}
    </section>
  );
}
