// Catalogue (服务管理): the store's items with their stock — add, reprice, take off / put on sale,
// restock or write off by a relative amount — and the listings the store published.
//
// API: GET|POST /merchants/{id}/items, PATCH /merchants/{id}/items/{item},
// POST /merchants/{id}/items/{item}/stock {delta}, GET /merchants/{id}/listings,
// POST /listings/{id}/withdraw.
import { useId, useState, type FormEvent, type ReactNode } from "react";

import { ApiError, http, query } from "../api/http";
import { common, merchant as t } from "../strings";
import { Money, Page, useLoad } from "../ui/kit";
import { fenToYuanText, localTime, yuanToFen, type Item, type Listing, type Page as ApiPage } from "./api";
import { useMerchant } from "./context";
import { ListTable, Pill, Problem } from "./parts";

export function CataloguePage(): ReactNode {
  const { merchant } = useMerchant();
  const [items, error, reload] = useLoad(() => http.get<Item[]>(`/merchants/${merchant.id}/items`), [merchant.id]);
  const [list, setList] = useState<Item[] | null>(null);
  const shown = list ?? items;
  const replace = (item: Item): void =>
    setList((prev) => {
      const base = prev ?? items ?? [];
      return base.some((i) => i.id === item.id) ? base.map((i) => (i.id === item.id ? item : i)) : [...base, item];
    });

  return (
    <Page title={t.catalogue.title}>
      <h2>{t.catalogue.items}</h2>
      <NewItem merchantId={merchant.id} onCreated={replace} />
      <Problem error={error} />
      {error ? <button type="button" onClick={reload}>{common.retry}</button> : null}
      <ListTable
        rows={shown}
        error={error}
        empty={t.catalogue.empty}
        className="items-table"
        columns={[
          t.catalogue.name,
          t.catalogue.kind,
          t.catalogue.price,
          t.catalogue.stock,
          t.catalogue.state,
          t.catalogue.adjust,
        ]}
      >
        {shown?.map((item) => (
          <ItemRow key={item.id} merchantId={merchant.id} item={item} onChanged={replace} />
        ))}
      </ListTable>
      <Listings merchantId={merchant.id} />
    </Page>
  );
}

function NewItem({ merchantId, onCreated }: { merchantId: string; onCreated: (item: Item) => void }): ReactNode {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Item["kind"]>("product");
  const [price, setPrice] = useState("");
  const [stock, setStock] = useState("0");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = useId();
  const priceFen = yuanToFen(price);
  const stockValue = /^\d{1,7}$/.test(stock) ? Number(stock) : null;

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setTouched(true);
    if (!name.trim() || priceFen === null || stockValue === null || stockValue > 1_000_000) return;
    setBusy(true);
    setError(null);
    try {
      onCreated(
        await http.post<Item>(`/merchants/${merchantId}/items`, { name: name.trim(), kind, price_fen: priceFen, stock: stockValue }),
      );
      setName("");
      setPrice("");
      setStock("0");
      setTouched(false);
      setOpen(false);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (!open) {
    return (
      <p>
        <button type="button" className="primary" onClick={() => setOpen(true)}>{t.catalogue.add}</button>
      </p>
    );
  }
  return (
    <form className="form card inline-form" onSubmit={(e) => void submit(e)} aria-label={t.catalogue.add}>
      <div className="field">
        <label htmlFor={`${id}-name`}>{t.catalogue.name}</label>
        <input id={`${id}-name`} value={name} maxLength={100} onChange={(e) => setName(e.target.value)} aria-invalid={(touched && !name.trim()) || undefined} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-kind`}>{t.catalogue.kind}</label>
        <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(e.target.value as Item["kind"])}>
          <option value="product">{t.catalogue.kinds.product}</option>
          <option value="service">{t.catalogue.kinds.service}</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-price`}>{t.catalogue.price}</label>
        <input
          id={`${id}-price`}
          inputMode="decimal"
          value={price}
          onChange={(e) => setPrice(e.target.value)}
          aria-invalid={(touched && priceFen === null) || undefined}
          aria-describedby={touched && priceFen === null ? `${id}-price-error` : undefined}
        />
        {touched && priceFen === null ? <span id={`${id}-price-error`} className="error small">{t.catalogue.priceInvalid}</span> : null}
      </div>
      <div className="field">
        <label htmlFor={`${id}-stock`}>{t.catalogue.initialStock}</label>
        <input id={`${id}-stock`} inputMode="numeric" value={stock} onChange={(e) => setStock(e.target.value)} aria-invalid={(touched && stockValue === null) || undefined} />
      </div>
      <Problem error={error} />
      <div className="row">
        <button type="button" onClick={() => setOpen(false)} disabled={busy}>{common.cancel}</button>
        <button type="submit" className="primary" disabled={busy}>{common.save}</button>
      </div>
    </form>
  );
}

function ItemRow({ merchantId, item, onChanged }: { merchantId: string; item: Item; onChanged: (item: Item) => void }): ReactNode {
  const [delta, setDelta] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [invalid, setInvalid] = useState(false);
  const id = useId();

  const run = async (work: () => Promise<Item>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onChanged(await work());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const adjust = (sign: 1 | -1): void => {
    const amount = /^\d{1,7}$/.test(delta.trim()) ? Number(delta.trim()) : 0;
    if (amount < 1 || amount > 1_000_000) {
      setInvalid(true);
      return;
    }
    setInvalid(false);
    void run(async () => {
      const updated = await http.post<Item>(`/merchants/${merchantId}/items/${item.id}/stock`, { delta: sign * amount });
      setDelta("");
      return updated;
    });
  };

  const reprice = (): void => {
    const text = window.prompt(t.catalogue.repricePrompt(item.name), fenToYuanText(item.price_fen));
    if (text === null) return;
    const fen = yuanToFen(text);
    if (fen === null) {
      setError(new ApiError(0, "invalid_price", t.catalogue.priceInvalid));
      return;
    }
    void run(() => http.patch<Item>(`/merchants/${merchantId}/items/${item.id}`, { price_fen: fen }));
  };

  const toggle = (): void => {
    if (item.active && !window.confirm(t.catalogue.takeOffConfirm(item.name))) return;
    void run(() => http.patch<Item>(`/merchants/${merchantId}/items/${item.id}`, { active: !item.active }));
  };

  return (
    <tr>
      <td>{item.name}</td>
      <td>{t.catalogue.kinds[item.kind] ?? item.kind}</td>
      <td>
        <Money fen={item.price_fen} />{" "}
        <button type="button" className="link" onClick={reprice} disabled={busy} aria-label={`${t.catalogue.reprice}：${item.name}`}>
          {t.catalogue.reprice}
        </button>
      </td>
      <td className={item.stock === 0 ? "error" : undefined} data-testid="stock">{item.stock}</td>
      <td>
        <Pill tone={item.active ? "verified" : ""}>{item.active ? t.catalogue.onSale : t.catalogue.offSale}</Pill>{" "}
        <button type="button" className="link" onClick={toggle} disabled={busy}>
          {item.active ? t.catalogue.takeOff : t.catalogue.putOn}
        </button>
      </td>
      <td>
        <div className="row stock-adjust">
          <label htmlFor={id} className="sr-only">{t.catalogue.delta(item.name)}</label>
          <input
            id={id}
            inputMode="numeric"
            value={delta}
            onChange={(e) => setDelta(e.target.value)}
            aria-invalid={invalid || undefined}
            aria-describedby={invalid ? `${id}-error` : undefined}
          />
          <button type="button" onClick={() => adjust(1)} disabled={busy}>{t.catalogue.restock}</button>
          <button type="button" onClick={() => adjust(-1)} disabled={busy}>{t.catalogue.writeOff}</button>
        </div>
        {invalid ? <span id={`${id}-error`} className="error small">{t.catalogue.deltaInvalid}</span> : null}
        <Problem error={error} />
      </td>
    </tr>
  );
}

function Listings({ merchantId }: { merchantId: string }): ReactNode {
  const [extra, setExtra] = useState<Listing[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [changed, setChanged] = useState<Record<string, Listing>>({});
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [page, error, reload] = useLoad(
    () => http.get<ApiPage<Listing>>(`/merchants/${merchantId}/listings${query({ limit: 20 })}`),
    [merchantId],
  );
  const next = cursor === undefined ? page?.next_cursor ?? null : cursor;
  const [extraFirst, setExtraFirst] = useState<Listing[]>([]);
  const listings = [...extraFirst, ...(page?.items ?? []), ...extra].map((l) => changed[l.id] ?? l);

  const more = async (): Promise<void> => {
    if (!next) return;
    setBusy(true);
    try {
      const p = await http.get<ApiPage<Listing>>(`/merchants/${merchantId}/listings${query({ limit: 20, cursor: next })}`);
      setExtra((prev) => [...prev, ...p.items]);
      setCursor(p.next_cursor);
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(false);
    }
  };

  const withdraw = async (listing: Listing): Promise<void> => {
    if (!window.confirm(t.catalogue.withdrawConfirm(listing.title))) return;
    setBusy(true);
    setActionError(null);
    try {
      const updated = await http.post<Listing>(`/listings/${listing.id}/withdraw`);
      setChanged((prev) => ({ ...prev, [updated.id]: updated }));
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h2>{t.catalogue.listings}</h2>
      <PublishListing merchantId={merchantId} onPublished={(l) => setExtraFirst((prev) => [l, ...prev])} />
      <Problem error={error ?? actionError} />
      {error ? <button type="button" onClick={reload}>{common.retry}</button> : null}
      <ListTable
        rows={page ? listings : null}
        error={error}
        empty={t.catalogue.listingsEmpty}
        className="listings-table"
        columns={[
          t.catalogue.listingTitle,
          t.catalogue.listingKind,
          t.catalogue.price,
          t.catalogue.listingStatus,
          t.catalogue.publishedAt,
          t.orders.columns.actions,
        ]}
      >
        {listings.map((l) => (
          <tr key={l.id}>
            <td>{l.title}</td>
            <td>{t.catalogue.listingKinds[l.kind] ?? l.kind}</td>
            <td>
              {l.kind === "rent" ? (
                <>
                  <Money fen={l.rent_per_day_fen} />
                  {t.catalogue.perDay}
                </>
              ) : (
                <Money fen={l.price_fen} />
              )}
            </td>
            <td>
              <Pill tone={l.status === "active" ? "verified" : ""}>{t.catalogue.listingStatuses[l.status] ?? l.status}</Pill>
            </td>
            <td><time dateTime={l.created_at}>{localTime(l.created_at)}</time></td>
            <td>
              {l.status === "active" ? (
                <button type="button" className="danger" onClick={() => void withdraw(l)} disabled={busy} aria-label={`${t.catalogue.withdraw}：${l.title}`}>
                  {t.catalogue.withdraw}
                </button>
              ) : null}
            </td>
          </tr>
        ))}
      </ListTable>
      {next ? (
        <p>
          <button type="button" onClick={() => void more()} disabled={busy}>{t.catalogue.more}</button>
        </p>
      ) : null}
    </>
  );
}

const CATEGORIES = ["toy", "building_blocks", "game_console", "video_game", "doll", "plush", "figure", "outdoor", "educational", "other"];
const CONDITIONS = ["new", "like_new", "good", "fair", "for_parts"];
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);

/** Publish a listing as the store (POST /listings with merchant_id), with an optional photo. */
function PublishListing({ merchantId, onPublished }: { merchantId: string; onPublished: (l: Listing) => void }): ReactNode {
  const { merchant } = useMerchant();
  const [open, setOpen] = useState(false);
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [category, setCategory] = useState("toy");
  const [condition, setCondition] = useState("like_new");
  const [kind, setKind] = useState<Listing["kind"]>("sale");
  const [price, setPrice] = useState("");
  const [deposit, setDeposit] = useState("0");
  const [photo, setPhoto] = useState<File | null>(null);
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const id = useId();
  const priceFen = yuanToFen(price);
  const depositFen = deposit.trim() === "0" || deposit.trim() === "" ? 0 : yuanToFen(deposit);
  const photoProblem = photo && (!IMAGE_TYPES.has(photo.type) || photo.size > 5 * 1024 * 1024) ? t.errors.unsupported_image_type : null;

  if (merchant.status !== "approved") return null;

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setTouched(true);
    setDone(false);
    if (!title.trim() || priceFen === null || (kind === "rent" && depositFen === null) || photoProblem) return;
    setBusy(true);
    setError(null);
    try {
      const money =
        kind === "rent" ? { rent_per_day_fen: priceFen, deposit_fen: depositFen ?? 0 } : { price_fen: priceFen };
      let listing = await http.post<Listing>("/listings", {
        title: title.trim(),
        description: description.trim(),
        category,
        condition,
        kind,
        merchant_id: merchantId,
        ...money,
      });
      if (photo) listing = await http.upload<Listing>(`/listings/${listing.id}/images`, photo, photo.name);
      onPublished(listing);
      setTitle("");
      setDescription("");
      setPrice("");
      setDeposit("0");
      setPhoto(null);
      setTouched(false);
      setDone(true);
      setOpen(false);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (!open) {
    return (
      <p className="row">
        <button type="button" className="primary" onClick={() => setOpen(true)}>{t.catalogue.publish}</button>
        {done ? <span className="notice" role="status">{t.catalogue.published}</span> : null}
      </p>
    );
  }
  return (
    <form className="form card inline-form" onSubmit={(e) => void submit(e)} aria-label={t.catalogue.publishTitle}>
      <p className="muted small">{t.catalogue.publishHint}</p>
      <div className="field">
        <label htmlFor={`${id}-title`}>{t.catalogue.listingTitle}</label>
        <input id={`${id}-title`} value={title} maxLength={60} onChange={(e) => setTitle(e.target.value)} aria-invalid={(touched && !title.trim()) || undefined} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-desc`}>{t.catalogue.description}</label>
        <textarea id={`${id}-desc`} value={description} maxLength={2000} rows={2} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor={`${id}-cat`}>{t.catalogue.category}</label>
          <select id={`${id}-cat`} value={category} onChange={(e) => setCategory(e.target.value)}>
            {CATEGORIES.map((c) => <option key={c} value={c}>{t.catalogue.categories[c]}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-cond`}>{t.catalogue.condition}</label>
          <select id={`${id}-cond`} value={condition} onChange={(e) => setCondition(e.target.value)}>
            {CONDITIONS.map((c) => <option key={c} value={c}>{t.catalogue.conditions[c]}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-kind`}>{t.catalogue.listingKind}</label>
          <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(e.target.value as Listing["kind"])}>
            {(["sale", "rent", "consignment"] as const).map((k) => <option key={k} value={k}>{t.catalogue.listingKinds[k]}</option>)}
          </select>
        </div>
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor={`${id}-price`}>{kind === "rent" ? t.catalogue.rentPerDay : t.catalogue.salePrice}</label>
          <input
            id={`${id}-price`}
            inputMode="decimal"
            value={price}
            onChange={(e) => setPrice(e.target.value)}
            aria-invalid={(touched && priceFen === null) || undefined}
            aria-describedby={touched && priceFen === null ? `${id}-price-error` : undefined}
          />
          {touched && priceFen === null ? <span id={`${id}-price-error`} className="error small">{t.catalogue.priceInvalid}</span> : null}
        </div>
        {kind === "rent" ? (
          <div className="field">
            <label htmlFor={`${id}-deposit`}>{t.catalogue.depositYuan}</label>
            <input
              id={`${id}-deposit`}
              inputMode="decimal"
              value={deposit}
              onChange={(e) => setDeposit(e.target.value)}
              aria-invalid={(touched && depositFen === null) || undefined}
            />
            {touched && depositFen === null ? <span className="error small">{t.catalogue.depositInvalid}</span> : null}
          </div>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={`${id}-photo`}>{t.catalogue.photo}</label>
        <input id={`${id}-photo`} type="file" accept="image/jpeg,image/png,image/webp" onChange={(e) => setPhoto(e.target.files?.[0] ?? null)} aria-invalid={Boolean(photoProblem) || undefined} />
        {photoProblem ? <span className="error small" role="alert">{photoProblem}</span> : null}
      </div>
      <Problem error={error} />
      <div className="row">
        <button type="button" onClick={() => setOpen(false)} disabled={busy}>{common.cancel}</button>
        <button type="submit" className="primary" disabled={busy}>{t.catalogue.publish}</button>
      </div>
    </form>
  );
}
