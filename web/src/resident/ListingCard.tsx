import { type ReactNode } from "react";
import { Link } from "react-router";

import { resident } from "../strings";
import { Money } from "../ui/kit";
import { type Listing } from "./types";

export function ListingCard({ listing }: { listing: Listing }): ReactNode {
  const image = listing.images[0];
  return (
    <Link to={`/listings/${listing.id}`} className="listing-card">
      {image ? <img src={image.url} alt={listing.title} loading="lazy" /> : <div className="placeholder" aria-hidden="true" />}
      <span className="title">{listing.title}</span>
      <span className="price">
        <span className="tag">{resident.listing.kinds[listing.kind] ?? listing.kind}</span>
        {listing.kind === "rent" ? (
          <>
            <Money fen={listing.rent_per_day_fen} />
            {resident.listing.perDay}
          </>
        ) : (
          <Money fen={listing.price_fen} />
        )}
      </span>
    </Link>
  );
}
