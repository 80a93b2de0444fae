// Group-buy campaigns (拼团活动): the store's campaigns with their seats, a form to offer a new one
// (prices typed in yuan, sent as integer fen) and ending one after a confirmation. Residents start
// and join the groups in their community channel; the API checks every rule again.
//
// API: GET /merchants/{id}/group-buy-campaigns, POST /group-buy-campaigns,
// POST /group-buy-campaigns/{id}/end; the goods from GET /merchants/{id}/items and /listings.
import { useId, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { common, merchant as t } from "../strings";
import { Loading, Money, Page, useLoad } from "../ui/kit";
import { fenToYuanText, localTime, yuanToFen, type Community, type Item, type Listing, type Page as ApiPage } from "./api";
import { useMerchant } from "./context";
import { type Campaign, type CampaignIn, wholeNumber } from "./groupbuys";
import { ListTable, Pill, Problem, useModal } from "./parts";

const g = t.groupBuys;

export function GroupBuyCampaignsPage(): ReactNode {
  const { merchant } = useMerchant();
  const [campaigns, error, reload] = useLoad(
    () => http.get<Campaign[]>(`/merchants/${merchant.id}/group-buy-campaigns`),
    [merchant.id],
  );
  const [formOpen, setFormOpen] = useState(false);
  const [ending, setEnding] = useState<Campaign | null>(null);
  const [notice, setNotice] = useState("");

  return (
    <Page
      title={g.title}
      actions={
        <button type="button" className={formOpen ? undefined : "primary"} aria-expanded={formOpen} onClick={() => setFormOpen((o) => !o)}>
          {formOpen ? g.hideForm : g.create}
        </button>
      }
    >
      {notice ? <p className="notice" role="status">{notice}</p> : null}
      {formOpen ? (
        <CampaignForm
          onCreated={(c) => {
            setFormOpen(false);
            setNotice(g.form.created(c.title));
            reload();
          }}
        />
      ) : null}
      <Problem error={error} />
      <ListTable
        rows={campaigns}
        error={error}
        onRetry={reload}
        empty={g.empty}
        className="orders-table campaigns-table"
        columns={[
          g.columns.title,
          g.columns.price,
          g.columns.size,
          g.columns.seats,
          g.columns.window,
          g.columns.status,
          g.columns.created,
          g.columns.actions,
        ]}
      >
        {campaigns?.map((c) => (
          <tr key={c.id} data-campaign-id={c.id}>
            <td>
              {c.title}
              <span className="muted small block">{g.organiser[c.organiser]}</span>
            </td>
            <td>
              <Money fen={c.group_price_fen} />
              <span className="muted small block">
                <s><Money fen={c.original_price_fen} /></s>
              </span>
            </td>
            <td>{g.size(c.min_members, c.max_members)}</td>
            <td>{g.seats(c.seats_taken, c.stock)}</td>
            <td>
              {g.hours(c.valid_hours)}
              <span className="muted small block">{g.payWithin(c.payment_window_s)}</span>
            </td>
            <td>
              <Pill tone={c.status === "active" ? "verified" : ""}>{g.statuses[c.status]}</Pill>
            </td>
            <td>
              <time dateTime={c.created_at}>{localTime(c.created_at)}</time>
            </td>
            <td>
              {c.status === "active" ? (
                <button type="button" className="danger" aria-label={`${g.end}：${c.title}`} onClick={() => setEnding(c)}>
                  {g.end}
                </button>
              ) : null}
            </td>
          </tr>
        ))}
      </ListTable>
      {ending ? (
        <EndDialog
          campaign={ending}
          onClose={() => setEnding(null)}
          onDone={() => {
            setEnding(null);
            reload();
          }}
        />
      ) : null}
    </Page>
  );
}

type Field =
  | "title"
  | "goods"
  | "originalPrice"
  | "groupPrice"
  | "minMembers"
  | "maxMembers"
  | "validHours"
  | "paymentMinutes"
  | "perUserLimit"
  | "stock"
  | "communities";

interface Draft {
  title: string;
  description: string;
  goods: string; // "item:<id>" or "listing:<id>"
  originalPrice: string;
  groupPrice: string;
  minMembers: string;
  maxMembers: string;
  validHours: string;
  paymentMinutes: string;
  perUserLimit: string;
  stock: string;
  autoFill: boolean;
  communities: string[];
}

/** The request for a draft, or the message for each field that is wrong. */
function check(draft: Draft, merchantId: string): { body?: CampaignIn; problems: Partial<Record<Field, string>> } {
  const problems: Partial<Record<Field, string>> = {};
  const title = draft.title.trim();
  if (!title || title.length > 100) problems.title = g.invalid.title;
  const [kind, goodsId] = draft.goods.split(":");
  if (!goodsId) problems.goods = g.invalid.goods;
  const original = yuanToFen(draft.originalPrice);
  if (original === null) problems.originalPrice = g.invalid.originalPrice;
  const price = yuanToFen(draft.groupPrice);
  if (price === null) problems.groupPrice = g.invalid.groupPrice;
  else if (original !== null && price >= original) problems.groupPrice = g.invalid.cheaper;
  const min = wholeNumber(draft.minMembers, 2, 100);
  if (min === null) problems.minMembers = g.invalid.minMembers;
  const max = wholeNumber(draft.maxMembers, 2, 100);
  if (max === null || (min !== null && max < min)) problems.maxMembers = g.invalid.maxMembers;
  const hours = wholeNumber(draft.validHours, 1, 168);
  if (hours === null) problems.validHours = g.invalid.validHours;
  let windowS: number | undefined;
  if (draft.paymentMinutes.trim()) {
    const minutes = wholeNumber(draft.paymentMinutes, 1, 1440);
    if (minutes === null || (hours !== null && minutes * 60 >= hours * 3600)) problems.paymentMinutes = g.invalid.paymentMinutes;
    else windowS = Math.max(60, minutes * 60);
  }
  const limit = wholeNumber(draft.perUserLimit, 1, 10);
  if (limit === null) problems.perUserLimit = g.invalid.perUserLimit;
  let stock: number | undefined;
  if (draft.stock.trim()) {
    const n = wholeNumber(draft.stock, 1, 1_000_000);
    if (n === null) problems.stock = g.invalid.stock;
    else stock = n;
  }
  if (draft.communities.length === 0) problems.communities = g.invalid.communities;
  if (Object.keys(problems).length > 0 || original === null || price === null || min === null || max === null || hours === null || limit === null) {
    return { problems };
  }
  const body: CampaignIn = {
    merchant_id: merchantId,
    title,
    description: draft.description.trim(),
    group_price_fen: price,
    original_price_fen: original,
    min_members: min,
    max_members: max,
    valid_hours: hours,
    per_user_limit: limit,
    auto_fill: draft.autoFill,
    community_ids: draft.communities,
  };
  if (kind === "listing") body.listing_id = goodsId;
  else body.item_id = goodsId;
  if (stock !== undefined) body.stock = stock;
  if (windowS !== undefined) body.payment_window_s = windowS;
  return { body, problems };
}

function CampaignForm({ onCreated }: { onCreated: (campaign: Campaign) => void }): ReactNode {
  const { merchant } = useMerchant();
  const id = useId();
  const [goods, goodsError] = useLoad(
    () =>
      Promise.all([
        http.get<Item[]>(`/merchants/${merchant.id}/items`),
        http.get<ApiPage<Listing>>(`/merchants/${merchant.id}/listings${query({ limit: 100 })}`),
      ]),
    [merchant.id],
  );
  const [communities, communitiesError] = useLoad(
    () => Promise.all(merchant.community_ids.map((cid) => http.get<Community>(`/communities/${cid}`))),
    [merchant.community_ids.join(",")],
  );
  const [draft, setDraft] = useState<Draft>({
    title: "",
    description: "",
    goods: "",
    originalPrice: "",
    groupPrice: "",
    minMembers: "2",
    maxMembers: "5",
    validHours: "24",
    paymentMinutes: "",
    perUserLimit: "1",
    stock: "",
    autoFill: false,
    communities: merchant.community_ids.length === 1 ? [...merchant.community_ids] : [],
  });
  const [shown, setShown] = useState<Partial<Record<Field, string>>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const items = (goods?.[0] ?? []).filter((i) => i.active);
  const listings = (goods?.[1].items ?? []).filter((l) => l.status === "active" && l.price_fen !== null);

  const set = <K extends keyof Draft>(key: K, value: Draft[K]): void => {
    setDraft((d) => ({ ...d, [key]: value }));
    if (key in shown) setShown((s) => ({ ...s, [key]: undefined }));
  };

  /** Choosing the goods fills in its price as the original price when none was typed. */
  const chooseGoods = (value: string): void => {
    set("goods", value);
    const [kind, goodsId] = value.split(":");
    const fen = kind === "item" ? items.find((i) => i.id === goodsId)?.price_fen : listings.find((l) => l.id === goodsId)?.price_fen;
    if (fen && !draft.originalPrice.trim()) set("originalPrice", fenToYuanText(fen));
  };

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const { body, problems } = check(draft, merchant.id);
    setShown(problems);
    if (!body) {
      const first = Object.keys(problems)[0];
      document.getElementById(`${id}-${first}`)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onCreated(await http.post<Campaign>("/group-buy-campaigns", body));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const input = (field: Field & keyof Draft, label: string, props: { hint?: string; inputMode?: "decimal" | "numeric" } = {}): ReactNode => {
    const fieldId = `${id}-${field}`;
    const problem = shown[field];
    const described = [props.hint ? `${fieldId}-hint` : "", problem ? `${fieldId}-error` : ""].filter(Boolean).join(" ");
    return (
      <div className="field">
        <label htmlFor={fieldId}>{label}</label>
        <input
          id={fieldId}
          value={draft[field] as string}
          inputMode={props.inputMode}
          onChange={(e) => set(field, e.target.value)}
          aria-invalid={problem ? true : undefined}
          aria-describedby={described || undefined}
        />
        {props.hint ? <span id={`${fieldId}-hint`} className="muted small">{props.hint}</span> : null}
        {problem ? <span id={`${fieldId}-error`} className="error small">{problem}</span> : null}
      </div>
    );
  };

  const goodsProblem = shown.goods;
  const communitiesProblem = shown.communities;
  return (
    <form className="card form campaign-form" aria-labelledby={`${id}-heading`} onSubmit={(e) => void submit(e)} noValidate>
      <h2 id={`${id}-heading`}>{g.form.heading}</h2>
      {input("title", g.form.title, { hint: g.form.titleHint })}
      <div className="field">
        <label htmlFor={`${id}-description`}>{g.form.description}</label>
        <textarea id={`${id}-description`} rows={2} maxLength={2000} value={draft.description} onChange={(e) => set("description", e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-goods`}>{g.form.goods}</label>
        <Problem error={goodsError} />
        {!goods && !goodsError ? (
          <Loading />
        ) : (
          <select
            id={`${id}-goods`}
            value={draft.goods}
            onChange={(e) => chooseGoods(e.target.value)}
            aria-invalid={goodsProblem ? true : undefined}
            aria-describedby={goodsProblem ? `${id}-goods-error` : undefined}
          >
            <option value="">{g.form.goodsPlaceholder}</option>
            {items.length > 0 ? (
              <optgroup label={g.form.items}>
                {items.map((i) => (
                  <option key={i.id} value={`item:${i.id}`}>{`${i.name}（${common.yuan(i.price_fen)}）`}</option>
                ))}
              </optgroup>
            ) : null}
            {listings.length > 0 ? (
              <optgroup label={g.form.listings}>
                {listings.map((l) => (
                  <option key={l.id} value={`listing:${l.id}`}>{`${l.title}（${common.yuan(l.price_fen ?? 0)}）`}</option>
                ))}
              </optgroup>
            ) : null}
          </select>
        )}
        {goods && items.length + listings.length === 0 ? <span className="muted small">{g.form.noGoods}</span> : null}
        {goodsProblem ? <span id={`${id}-goods-error`} className="error small">{goodsProblem}</span> : null}
      </div>
      <div className="form-grid">
        {input("originalPrice", g.form.originalPrice, { inputMode: "decimal" })}
        {input("groupPrice", g.form.groupPrice, { inputMode: "decimal" })}
        {input("minMembers", g.form.minMembers, { inputMode: "numeric" })}
        {input("maxMembers", g.form.maxMembers, { inputMode: "numeric" })}
        {input("perUserLimit", g.form.perUserLimit, { inputMode: "numeric" })}
        {input("stock", g.form.stock, { hint: g.form.stockHint, inputMode: "numeric" })}
      </div>
      <div className="form-grid">
        {input("validHours", g.form.validHours, { hint: g.form.validHoursHint, inputMode: "numeric" })}
        {input("paymentMinutes", g.form.paymentMinutes, { hint: g.form.paymentMinutesHint, inputMode: "numeric" })}
      </div>
      <label className="check-row">
        <input type="checkbox" checked={draft.autoFill} onChange={(e) => set("autoFill", e.target.checked)} />
        {g.form.autoFill}
      </label>
      <fieldset
        className="community-choice"
        aria-invalid={communitiesProblem ? true : undefined}
        aria-describedby={communitiesProblem ? `${id}-communities-error` : undefined}
      >
        <legend>{g.form.communities}</legend>
        <Problem error={communitiesError} />
        {merchant.community_ids.length === 0 ? <p className="muted small">{g.form.noCommunities}</p> : null}
        {merchant.community_ids.map((cid, i) => (
          <label key={cid} className="check-row">
            <input
              type="checkbox"
              id={i === 0 ? `${id}-communities` : undefined}
              checked={draft.communities.includes(cid)}
              onChange={(e) =>
                set("communities", e.target.checked ? [...draft.communities, cid] : draft.communities.filter((c) => c !== cid))
              }
            />
            {communities?.find((c) => c.id === cid)?.name ?? cid.slice(0, 8)}
          </label>
        ))}
        {communitiesProblem ? <span id={`${id}-communities-error`} className="error small">{communitiesProblem}</span> : null}
      </fieldset>
      <Problem error={error} />
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>{busy ? g.form.submitting : g.form.submit}</button>
      </div>
    </form>
  );
}

/** Ending stops new groups: asked once more in a modal dialog. */
function EndDialog({ campaign, onClose, onDone }: { campaign: Campaign; onClose: () => void; onDone: () => void }): ReactNode {
  const ref = useModal();
  const headingId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const end = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await http.post<Campaign>(`/group-buy-campaigns/${campaign.id}/end`);
      onDone();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} className="dialog" aria-labelledby={headingId} onClose={onClose} onCancel={onClose}>
      <h2 id={headingId}>{g.endTitle}</h2>
      <p>{g.endConfirm(campaign.title)}</p>
      <Problem error={error} />
      <div className="row">
        <button type="button" onClick={onClose} disabled={busy}>{common.cancel}</button>
        <button type="button" className="danger" onClick={() => void end()} disabled={busy}>{g.doEnd}</button>
      </div>
    </dialog>
  );
}
