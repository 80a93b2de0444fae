import { type ReactNode } from "react";
import { Link } from "react-router";

import { resident } from "../strings";
import { Money } from "../ui/kit";
import { type Listing } from "./types";

/** A listing in a two-column grid; `note` says why it is shown (search reasons, recommendations). */
export function ListingCard({ listing, note }: { listing: Listing; note?: ReactNode }): ReactNode {
  const image = listing.images[0];
  return (
    <Link to={`/listings/${listing.id}`} className="listing-card">
      {image ? <img src={image.url} alt="" loading="lazy" /> : <div className="placeholder" aria-hidden="true" />}
      <span className="title">{listing.title}</span>
      <span className="price">
        <span className="tag">{resident.listing.kinds[listing.kind] ?? listing.kind}</span>
        <ListingPrice listing={listing} />
      </span>
      {note ? <span className="note">{note}</span> : null}
    </Link>
  );
}

export function ListingPrice({ listing }: { listing: Listing }): ReactNode {
  return listing.kind === "rent" ? (
    <>
      <Money fen={listing.rent_per_day_fen} />
      {resident.listing.perDay}
    </>
  ) : (
    <Money fen={listing.price_fen} />
  );
}
