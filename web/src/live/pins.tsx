// Pinned items of a stream (`live.pinned` carries only kinds and ids): their details from the API,
// shown as cards that open the listing (to order it) or the group buy.
import { useEffect, useState, type ReactNode } from "react";
import { Link } from "react-router";

import { ApiError, http } from "../api/http";
import { type Listing } from "../resident/types";
import { live } from "../strings";
import { Money } from "../ui/kit";
import { type PinnedItem } from "./rtc";

export interface GroupBuy {
  id: string;
  title: string;
  group_price_fen: number;
  original_price_fen: number;
  members: number;
  max_members: number;
  status: string;
}

export type PinnedDetail =
  | { kind: "listing"; id: string; listing: Listing | null }
  | { kind: "group_buy"; id: string; group: GroupBuy | null };

const key = (item: PinnedItem): string => `${item.kind}:${item.id}`;

async function fetchDetail(item: PinnedItem): Promise<PinnedDetail> {
  try {
    if (item.kind === "listing") return { kind: "listing", id: item.id, listing: await http.get<Listing>(`/listings/${item.id}`) };
    return { kind: "group_buy", id: item.id, group: await http.get<GroupBuy>(`/group-buys/${item.id}`) };
  } catch (error) {
    // Withdrawn or gone since it was pinned: the card says so rather than vanishing.
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
      return item.kind === "listing" ? { kind: "listing", id: item.id, listing: null } : { kind: "group_buy", id: item.id, group: null };
    }
    throw error;
  }
}

/** Details of the pinned items, in pin order; fetched once per item and kept while pinned. */
export function usePinnedDetails(items: PinnedItem[]): PinnedDetail[] {
  const [known, setKnown] = useState<Map<string, PinnedDetail>>(new Map());
  const wanted = items.map(key).join(",");
  useEffect(() => {
    let active = true;
    const missing = items.filter((item) => !known.has(key(item)));
    for (const item of missing) {
      fetchDetail(item).then(
        (detail) => active && setKnown((current) => new Map(current).set(key(item), detail)),
        (error: unknown) => console.warn("pinned item not loaded", item, error),
      );
    }
    return () => {
      active = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [wanted]);
  return items.map((item) => known.get(key(item))).filter((d): d is PinnedDetail => d !== undefined);
}

export function PinnedCard({ detail }: { detail: PinnedDetail }): ReactNode {
  if (detail.kind === "listing") {
    const listing = detail.listing;
    if (!listing) return <div className="pin-card gone">{live.watch.pinnedUnavailable}</div>;
    const image = listing.images[0];
    return (
      <Link to={`/listings/${listing.id}`} className="pin-card">
        {image ? <img src={image.url} alt="" /> : <span className="pin-image" aria-hidden="true" />}
        <span className="pin-title">{listing.title}</span>
        <span className="pin-price">
          <Money fen={listing.kind === "rent" ? listing.rent_per_day_fen : listing.price_fen} />
        </span>
        <span className="pin-action">{live.watch.openListing}</span>
      </Link>
    );
  }
  const group = detail.group;
  if (!group) return <div className="pin-card gone">{live.watch.pinnedUnavailable}</div>;
  return (
    <Link to={`/group-buys/${group.id}`} className="pin-card">
      <span className="pin-image group" aria-hidden="true">
        {live.watch.groupBuy}
      </span>
      <span className="pin-title">{group.title}</span>
      <span className="pin-price">
        <Money fen={group.group_price_fen} /> · {group.members}/{group.max_members}
      </span>
      <span className="pin-action">{live.watch.openGroupBuy}</span>
    </Link>
  );
}
