// 我的发布: everything the resident published, with withdrawal (下架).
import { type ReactNode } from "react";
import { Link } from "react-router";

import { http } from "../api/http";
import { resident } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { ListingPrice } from "./ListingCard";
import { type Listing, type Page as Paged } from "./types";
import { ResidentError } from "./ResidentError";

export function MyListingsPage(): ReactNode {
  const [page, error, reload] = useLoad(() => http.get<Paged<Listing>>("/me/listings?limit=100"), []);
  const p = resident.publish;
  return (
    <Page title={p.mine} actions={<Link to="/publish">{p.title}</Link>}>
      <ResidentError error={error} />
      {page === undefined && !error ? <Loading /> : null}
      {page && page.items.length === 0 ? <Empty>{p.noneMine}</Empty> : null}
      <ul className="list">
        {page?.items.map((l) => <MyListing key={l.id} listing={l} onChange={reload} />)}
      </ul>
    </Page>
  );
}

function MyListing({ listing, onChange }: { listing: Listing; onChange: () => void }): ReactNode {
  const [withdraw, busy, error] = useAction(async () => {
    if (!window.confirm(resident.publish.withdrawConfirm)) return;
    await http.post(`/listings/${listing.id}/withdraw`);
    onChange();
  });
  const image = listing.images[0];
  return (
    <li className="card my-listing">
      {image ? <img src={image.url} alt="" className="thumb" /> : <span className="thumb placeholder" aria-hidden="true" />}
      <div className="grow">
        <Link to={`/listings/${listing.id}`}>{listing.title}</Link>
        <div>
          <ListingPrice listing={listing} />{" "}
          <span className="badge">{resident.listing.statuses[listing.status] ?? listing.status}</span>
        </div>
      </div>
      {listing.status === "active" ? (
        <button type="button" className="danger" disabled={busy} onClick={() => void withdraw()}>
          {resident.publish.withdraw}
        </button>
      ) : null}
      <ResidentError error={error} />
    </li>
  );
}
