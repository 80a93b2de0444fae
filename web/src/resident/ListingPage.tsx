// One listing: photos, money, the seller's reputation, favourite, and the order sheet.
import { useEffect, useState, type ReactNode } from "react";
import { useNavigate, useParams } from "react-router";

import { ApiError, http } from "../api/http";
import { ContactSeller } from "../conversations/ContactSeller";
import { CouponPicker, type PickerState } from "../coupons/CouponPicker";
import { CouponError } from "../coupons/parts";
import { useSession } from "../session";
import { common, coupons, resident } from "../strings";
import { CallSeller } from "../subscriptions/CallSeller";
import { SwapSheet, SwapTag, SwapToggle } from "../swaps/SwapSheet";
import { Loading, Money, Page, useAction, useLoad } from "../ui/kit";
import { ListingPrice } from "./ListingCard";
import { type Fulfilment, type Listing, type Order, type Reputation } from "./types";
import { ResidentError } from "./ResidentError";

// docs/orders.md: which hand-over methods each listing kind allows.
const FULFILMENTS: Record<Listing["kind"], Fulfilment[]> = {
  sale: ["face_to_face", "self_pickup"],
  consignment: ["self_pickup", "delivery"],
  rent: ["face_to_face", "self_pickup", "delivery"],
};

export function ListingPage(): ReactNode {
  const { id = "" } = useParams();
  const { me } = useSession();
  const [listing, error] = useLoad(() => http.get<Listing>(`/listings/${id}`), [id]);
  useEffect(() => {
    // A view teaches recommendations; losing one is harmless.
    if (id) void http.post(`/listings/${id}/views`).catch(() => undefined);
  }, [id]);
  if (error) return <Page title={resident.listing.title}><ResidentError error={error} /></Page>;
  if (!listing) return <Loading />;
  const l = resident.listing;
  const own = listing.seller_id === me?.id;
  return (
    <Page title={listing.title} actions={<Favourite listingId={listing.id} />}>
      <Photos listing={listing} />
      <div className="card">
        <p className="big-price">
          <span className="tag">{l.kinds[listing.kind]}</span>
          <ListingPrice listing={listing} />
          {listing.swap_ok && listing.status === "active" ? <SwapTag /> : null}
        </p>
        {listing.kind === "rent" ? (
          <p>
            {l.deposit} <Money fen={listing.deposit_fen} />
          </p>
        ) : null}
        <dl className="facts">
          <dt>{l.category}</dt>
          <dd>{l.categories[listing.category] ?? listing.category}</dd>
          <dt>{l.condition}</dt>
          <dd>{l.conditions[listing.condition] ?? listing.condition}</dd>
          {listing.brand ? (
            <>
              <dt>{l.brand}</dt>
              <dd>{listing.brand}</dd>
            </>
          ) : null}
        </dl>
        {listing.description ? <p className="description">{listing.description}</p> : null}
      </div>
      <SellerReputation sellerId={listing.seller_id} />
      {own ? (
        <>
          <OwnListing listing={listing} />
          <SwapToggle listing={listing} />
        </>
      ) : listing.status !== "active" ? (
        <p className="muted">
          {l.notActive}（{l.statuses[listing.status] ?? listing.status}）
        </p>
      ) : (
        <>
          <ContactSeller listingId={listing.id} />
          <CallSeller listingId={listing.id} />
          <OrderSheet listing={listing} />
          {listing.swap_ok ? <SwapSheet listing={listing} /> : null}
        </>
      )}
    </Page>
  );
}

/** The seller's own listing: no order sheet, but withdrawal (下架). */
function OwnListing({ listing }: { listing: Listing }): ReactNode {
  const [status, setStatus] = useState(listing.status);
  const [withdraw, busy, error] = useAction(async () => {
    if (!window.confirm(resident.publish.withdrawConfirm)) return;
    setStatus((await http.post<Listing>(`/listings/${listing.id}/withdraw`)).status);
  });
  // Non-members are capped on active listings (409 listing_cap_reached, docs/subscriptions.md).
  const [reactivate, reactivating, reactivateError] = useAction(async () => {
    setStatus((await http.post<Listing>(`/listings/${listing.id}/reactivate`)).status);
  });
  return (
    <div className="card row">
      <span className="grow muted">
        {resident.listing.own} · {resident.listing.statuses[status] ?? status}
      </span>
      {status === "active" ? (
        <button type="button" className="danger" disabled={busy} onClick={() => void withdraw()}>
          {resident.publish.withdraw}
        </button>
      ) : status === "withdrawn" ? (
        <button type="button" className="secondary" disabled={reactivating} onClick={() => void reactivate()}>
          {resident.publish.reactivate}
        </button>
      ) : null}
      <ResidentError error={error ?? reactivateError} />
    </div>
  );
}

function Photos({ listing }: { listing: Listing }): ReactNode {
  const n = listing.images.length;
  if (n === 0) return <div className="photo-strip empty-photo" role="img" aria-label={resident.listing.noPhoto} />;
  return (
    <ul className="photo-strip">
      {listing.images.map((image, i) => (
        <li key={image.key}>
          <img src={image.url} alt={`${listing.title}，${resident.listing.photos(i + 1, n)}`} />
        </li>
      ))}
    </ul>
  );
}

function SellerReputation({ sellerId }: { sellerId: string }): ReactNode {
  const [rep] = useLoad(() => http.get<Reputation>(`/users/${sellerId}/reputation`), [sellerId]);
  return (
    <p className="card row">
      <span className="grow">{resident.listing.seller}</span>
      {rep ? (
        <span>
          {rep.average !== null ? <span aria-hidden="true">{"★".repeat(Math.round(rep.average))} </span> : null}
          {resident.listing.reputation(rep.average, rep.rating_count)}
        </span>
      ) : null}
    </p>
  );
}

function Favourite({ listingId }: { listingId: string }): ReactNode {
  const [favs] = useLoad(() => http.get<{ listing_ids: string[] }>("/me/favourites"), []);
  const [on, setOn] = useState<boolean | null>(null);
  const current = on ?? favs?.listing_ids.includes(listingId) ?? false;
  const [toggle, busy, error] = useAction(async () => {
    if (current) await http.delete(`/listings/${listingId}/favourite`);
    else await http.put(`/listings/${listingId}/favourite`);
    setOn(!current);
  });
  return (
    <>
      <button type="button" className={current ? "primary" : "secondary"} aria-pressed={current} disabled={busy || !favs} onClick={() => void toggle()}>
        {current ? `★ ${resident.listing.unfavourite}` : `☆ ${resident.listing.favourite}`}
      </button>
      <ResidentError error={error} />
    </>
  );
}

function OrderSheet({ listing }: { listing: Listing }): ReactNode {
  const navigate = useNavigate();
  const choices = FULFILMENTS[listing.kind];
  const [fulfilment, setFulfilment] = useState<Fulfilment>(choices[0] as Fulfilment);
  const [daysText, setDaysText] = useState("2");
  const rent = listing.kind === "rent";
  const days = Number(daysText);
  const daysOk = !rent || (Number.isInteger(days) && days >= 1 && days <= 365);
  const [picked, setPicked] = useState<PickerState>({ couponIds: [], preview: null, pending: false });
  const [refresh, setRefresh] = useState(0);
  const [place, busy, error] = useAction(async () => {
    try {
      const order = await http.post<Order>("/orders", {
        listing_id: listing.id,
        fulfilment,
        days: rent ? days : null,
        // Only when there are some: an order without coupons is the request it always was.
        ...(picked.couponIds.length ? { coupon_ids: picked.couponIds } : {}),
      });
      await navigate(`/orders/${order.id}/pay`);
    } catch (e) {
      // A coupon used up meanwhile (another order, expiry): the picker asks again.
      if (e instanceof ApiError && e.code === "coupon_not_usable") setRefresh((n) => n + 1);
      throw e;
    }
  });
  const o = resident.order;
  const total = rent ? (listing.rent_per_day_fen ?? 0) * (daysOk ? days : 0) + (listing.deposit_fen ?? 0) : listing.price_fen;
  return (
    <form
      className="card form order-sheet"
      aria-labelledby="order-sheet"
      onSubmit={(e) => {
        e.preventDefault();
        if (daysOk) void place();
      }}
    >
      <h2 id="order-sheet">{o.sheetTitle}</h2>
      <fieldset className="choices">
        <legend>{o.fulfilment}</legend>
        {choices.map((f) => (
          <label key={f} className="choice">
            <input type="radio" name="fulfilment" value={f} checked={fulfilment === f} onChange={() => setFulfilment(f)} />
            {o.fulfilments[f]}
          </label>
        ))}
      </fieldset>
      {rent ? (
        <label htmlFor="rent-days">
          {o.days}
          <input
            id="rent-days"
            type="number"
            inputMode="numeric"
            min={1}
            max={365}
            value={daysText}
            aria-invalid={!daysOk}
            aria-describedby={daysOk ? undefined : "days-error"}
            onChange={(e) => setDaysText(e.target.value)}
          />
          {!daysOk ? (
            <span id="days-error" className="error">
              {o.daysError}
            </span>
          ) : null}
        </label>
      ) : null}
      {rent && daysOk ? (
        <p className="muted small">
          {o.rentTotal(listing.rent_per_day_fen ?? 0, days)} + {resident.listing.deposit} {common.yuan(listing.deposit_fen ?? 0)}
        </p>
      ) : null}
      <CouponPicker
        target={!daysOk ? null : rent ? { listing_id: listing.id, days } : { listing_id: listing.id }}
        onChange={setPicked}
        priceLabel={rent ? coupons.picker.rent : coupons.picker.price}
        refresh={refresh}
      />
      {picked.preview ? null : (
        <p className="row">
          <span className="grow">{o.total}</span>
          <Money fen={total} />
        </p>
      )}
      {error instanceof ApiError && error.code.startsWith("coupon_") ? <CouponError error={error} /> : <ResidentError error={error} />}
      <button type="submit" className="primary wide" disabled={busy || !daysOk || picked.pending}>
        {rent ? resident.listing.rentIt : resident.listing.buy}
      </button>
    </form>
  );
}
