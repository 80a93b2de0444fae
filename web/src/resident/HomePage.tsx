// The first screen: the community's listings, newest first.
import { type ReactNode } from "react";
import { Link } from "react-router";

import { http, query } from "../api/http";
import { useSession } from "../session";
import { resident } from "../strings";
import { Empty, ErrorNote, Loading, Page, useLoad } from "../ui/kit";
import { ListingCard } from "./ListingCard";
import { type Listing, type Page as Paged } from "./types";

export function HomePage(): ReactNode {
  const { communities } = useSession();
  const community = communities.find((c) => c.status === "verified") ?? communities[0];
  const [page, error] = useLoad(
    () => http.get<Paged<Listing>>(`/listings${query({ community_id: community?.id, limit: 20 })}`),
    [community?.id],
  );
  return (
    <Page title={community?.name ?? resident.home.title}>
      {!community ? (
        <p className="card">
          {resident.home.noCommunity} <Link to="/me">{resident.home.joinCommunity}</Link>
        </p>
      ) : null}
      <ErrorNote error={error} />
      {page === undefined && !error ? <Loading /> : null}
      {page && page.items.length === 0 ? <Empty /> : null}
      <div className="grid">{page?.items.map((listing) => <ListingCard key={listing.id} listing={listing} />)}</div>
    </Page>
  );
}
