// The studio's pin picker: the community's listings (searchable) and joinable group buys, pinned
// to the running stream with `live:pin` (the whole set each time, docs/protocol.md).
import { useEffect, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { realtime } from "../api/realtime";
import { type Listing, type Page as Paged } from "../resident/types";
import { live } from "../strings";
import { Empty, ErrorNote, Loading, Money, useAction, useLoad } from "../ui/kit";
import { LiveError } from "./errors";
import { PinnedCard, usePinnedDetails, type GroupBuy } from "./pins";
import { type LiveSession, type PinnedItem } from "./rtc";

const text = live.console;
const MAX_PINS = 20;
const pinKey = (item: PinnedItem): string => `${item.kind}:${item.id}`;

export function Pins({ communityId, session }: { communityId: string; session: LiveSession | null }): ReactNode {
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [listings, listError] = useLoad(
    () => http.get<Paged<Listing>>(`/listings${query({ community_id: communityId, q: q || undefined, limit: 30 })}`),
    [communityId, q],
  );
  // Groups people can still join: open ones, and succeeded ones with seats left.
  const [groups, groupError] = useLoad(
    () =>
      http
        .get<Paged<GroupBuy>>(`/communities/${communityId}/group-buys${query({ limit: 30 })}`)
        .then((p) => p.items.filter((g) => g.status === "open" || (g.status === "succeeded" && g.members < g.max_members))),
    [communityId],
  );
  const pinned = session?.pinned ?? [];
  // Selected items as "kind:id", starting from what is pinned now.
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const pinnedKey = pinned.map(pinKey).join(",");
  useEffect(() => {
    setSelected(new Set(pinned.map(pinKey)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pinnedKey, session?.session_id]);
  const details = usePinnedDetails(pinned);

  const [pin, pinning, pinError] = useAction(async (items: PinnedItem[]) => {
    if (!session) return;
    await realtime().request("live:pin", { community_id: communityId, session_id: session.session_id, items });
  });

  const toggle = (item: PinnedItem): void => {
    const next = new Set(selected);
    const key = pinKey(item);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setSelected(next);
  };
  const items: PinnedItem[] = [...selected].map((key) => {
    const [kind, id] = key.split(":") as [PinnedItem["kind"], string];
    return { kind, id };
  });
  const tooMany = items.length > MAX_PINS;

  return (
    <section className="card studio-pins" aria-labelledby="studio-pins-title">
      <h2 id="studio-pins-title">{text.pins.title}</h2>
      <p className="muted">{text.pins.hint}</p>
      <h3>{text.pins.current}</h3>
      {pinned.length === 0 ? <p className="muted">{text.pins.nothingPinned}</p> : null}
      <ul className="pin-strip">
        {details.map((detail) => (
          <li key={`${detail.kind}:${detail.id}`}>
            <PinnedCard detail={detail} />
          </li>
        ))}
      </ul>
      <h3>{text.pins.listings}</h3>
      <form
        className="row"
        role="search"
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          setQ(search.trim());
        }}
      >
        <label className="visually-hidden" htmlFor="pin-search">
          {text.pins.search}
        </label>
        <input id="pin-search" type="search" maxLength={50} value={search} placeholder={text.pins.search} onChange={(event) => setSearch(event.target.value)} />
        <button type="submit">{text.pins.searchButton}</button>
      </form>
      <ErrorNote error={listError} />
      {listings === undefined && !listError ? <Loading /> : null}
      {listings && listings.items.length === 0 ? <Empty>{text.pins.none}</Empty> : null}
      <ul className="list pin-choices">
        {listings?.items.map((listing) => (
          <li key={listing.id}>
            <label className="pin-choice">
              <input type="checkbox" checked={selected.has(`listing:${listing.id}`)} onChange={() => toggle({ kind: "listing", id: listing.id })} />
              <span>{listing.title}</span>
              <Money fen={listing.kind === "rent" ? listing.rent_per_day_fen : listing.price_fen} />
            </label>
          </li>
        ))}
      </ul>
      <h3>{text.pins.groupBuys}</h3>
      <ErrorNote error={groupError} />
      {groups === undefined && !groupError ? <Loading /> : null}
      {groups && groups.length === 0 ? <p className="muted">{text.pins.noGroupBuys}</p> : null}
      <ul className="list pin-choices">
        {groups?.map((group) => (
          <li key={group.id}>
            <label className="pin-choice">
              <input type="checkbox" checked={selected.has(`group_buy:${group.id}`)} onChange={() => toggle({ kind: "group_buy", id: group.id })} />
              <span>
                {group.title}（{group.members}/{group.max_members}）
              </span>
              <Money fen={group.group_price_fen} />
            </label>
          </li>
        ))}
      </ul>
      {tooMany ? <p className="error">{text.pins.tooMany}</p> : null}
      {!session ? <p className="muted">{text.pins.needStream}</p> : null}
      <LiveError error={pinError} />
      <div className="row">
        <button type="button" className="primary" disabled={!session || pinning || tooMany} onClick={() => void pin(items)}>
          {pinning ? text.pins.pinning : text.pins.pin}
        </button>
        <button type="button" disabled={!session || pinning || pinned.length === 0} onClick={() => void pin([])}>
          {text.pins.clear}
        </button>
      </div>
    </section>
  );
}
