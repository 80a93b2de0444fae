// 我的积分 (docs/points.md): balance and what expires soon, the daily check-in with its streak,
// today's earnings against each rule's cap, the catalogue with redemption, my redemptions and the
// points journal, paged. Loaded lazily from the Me page.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";

import { http, query } from "../api/http";
import { newKey, postIdempotent } from "../channel/pay";
import { common, points as t } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { ResidentError } from "./ResidentError";

interface Summary {
  balance: number;
  expiring_soon: { points: number; before: string } | null;
  streak_days: number;
  checked_in_today: boolean;
  today: Array<{ rule: string; earned: number; cap: number | null }>;
}

interface HistoryItem {
  id: string;
  delta: number;
  kind: string;
  rule: string;
  note: string;
  created_at: string;
  expires_at: string | null;
}

interface Product {
  id: string;
  kind: "coupon" | "gift" | "privilege";
  name: string;
  description: string;
  points_cost: number;
  stock: number | null;
  pickup: "locker" | "merchant" | null;
  status: string;
}

interface Redemption {
  id: string;
  kind: string;
  name: string;
  points: number;
  status: string;
  coupon_id: string | null;
  pickup: string | null;
  pickup_code: string | null;
  created_at: string;
}

const day = (iso: string): string => new Date(iso).toLocaleDateString("zh-CN");
const time = (iso: string): string => new Date(iso).toLocaleString("zh-CN", { hour12: false });

export function PointsPage(): ReactNode {
  const [summary, summaryError, reloadSummary] = useLoad(() => http.get<Summary>("/me/points"), []);
  const [round, setRound] = useState(0);
  const changed = (): void => {
    reloadSummary();
    setRound((r) => r + 1);
  };
  return (
    <Page title={t.title}>
      <ResidentError error={summaryError} />
      {summary ? <Balance summary={summary} onChange={changed} /> : summaryError ? null : <Loading />}
      {summary ? <Today summary={summary} /> : null}
      <Catalogue balance={summary?.balance ?? 0} onRedeemed={changed} />
      <MyRedemptions round={round} />
      <History round={round} />
    </Page>
  );
}

function Balance({ summary, onChange }: { summary: Summary; onChange: () => void }): ReactNode {
  const [message, setMessage] = useState("");
  const [checkIn, busy, error] = useAction(async () => {
    const result = await http.post<{ earned: number; bonus: number }>("/me/points/check-in");
    setMessage(t.checkInDone(result.earned, result.bonus));
    onChange();
  });
  return (
    <div className="card points-balance">
      <div className="grow">
        <span className="muted small">{t.balance}</span>
        <p className="points-big" aria-live="polite" data-testid="points-balance">
          {summary.balance}
          <span className="small"> {t.unit}</span>
        </p>
        {summary.expiring_soon ? (
          <p className="small error-soft">{t.expiring(summary.expiring_soon.points, day(summary.expiring_soon.before))}</p>
        ) : null}
        <p className="small muted">{t.streak(summary.streak_days)}</p>
      </div>
      <button type="button" className="primary" disabled={busy || summary.checked_in_today} onClick={() => void checkIn()}>
        {summary.checked_in_today ? t.checkedIn : t.checkIn}
      </button>
      {message ? (
        <p className="wide small" role="status">
          {message}
        </p>
      ) : null}
      <div className="wide">
        <ResidentError error={error} />
      </div>
    </div>
  );
}

function Today({ summary }: { summary: Summary }): ReactNode {
  return (
    <>
      <h2>{t.today}</h2>
      <ul className="list points-today">
        {summary.today.map((r) => (
          <li key={r.rule} className="card">
            <span className="grow">{t.rules[r.rule] ?? r.rule}</span>
            <span className={r.cap !== null && r.earned >= r.cap ? "muted" : ""}>{r.cap === null ? r.earned : t.todayRow(r.earned, r.cap)}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

function Catalogue({ balance, onRedeemed }: { balance: number; onRedeemed: () => void }): ReactNode {
  const [products, error, reload] = useLoad(() => http.get<{ items: Product[] }>("/points-products"), []);
  const [chosen, setChosen] = useState<Product | null>(null);
  return (
    <>
      <h2>{t.catalogue}</h2>
      <ResidentError error={error} />
      {!products && !error ? <Loading /> : null}
      {products && products.items.length === 0 ? <Empty>{t.catalogueEmpty}</Empty> : null}
      <ul className="list">
        {products?.items.map((p) => (
          <li key={p.id} className="card">
            <div className="grow">
              <strong>{p.name}</strong>
              <div className="small muted">
                {t.kinds[p.kind]} {p.pickup ? `· ${t.pickup[p.pickup]}` : ""} {p.stock !== null ? `· ${t.stock(p.stock)}` : ""}
              </div>
              {p.description ? <div className="small">{p.description}</div> : null}
            </div>
            <span className="points-cost">{t.cost(p.points_cost)}</span>
            <button
              type="button"
              disabled={p.stock === 0 || p.points_cost > balance}
              aria-label={`${t.redeem} ${p.name}`}
              onClick={() => setChosen(p)}
            >
              {p.stock === 0 ? t.errors.product_sold_out : t.redeem}
            </button>
          </li>
        ))}
      </ul>
      {chosen ? (
        <RedeemDialog
          product={chosen}
          onClose={() => {
            setChosen(null);
            reload();
          }}
          onRedeemed={onRedeemed}
        />
      ) : null}
    </>
  );
}

function RedeemDialog({ product, onClose, onRedeemed }: { product: Product; onClose: () => void; onRedeemed: () => void }): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  // One key per dialog: a double tap or a retry after a lost answer redeems once.
  const [key] = useState(newKey);
  const [result, setResult] = useState<Redemption | null>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  const [redeem, busy, error] = useAction(async () => {
    setResult(await postIdempotent<Redemption>(`/points-products/${product.id}/redeem`, key));
    onRedeemed();
  });
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={headingId} onClose={onClose} onCancel={onClose}>
      <h2 id={headingId}>{result ? t.redeemDone : t.redeemTitle}</h2>
      {result ? (
        <div role="status">
          {result.pickup_code ? (
            <p>
              {t.pickupCode}：<strong className="pickup-code">{result.pickup_code}</strong>
              <br />
              <span className="small muted">{result.pickup ? t.pickup[result.pickup] : ""}</span>
            </p>
          ) : result.coupon_id ? (
            <p>{t.couponIssued}</p>
          ) : (
            <p>{t.privilegeGranted}</p>
          )}
        </div>
      ) : (
        <p>{t.redeemConfirm(product.name, product.points_cost)}</p>
      )}
      <ResidentError error={error} />
      <div className="actions">
        {result ? (
          <button type="button" className="primary" onClick={onClose}>
            {common.close}
          </button>
        ) : (
          <>
            <button type="button" className="secondary" onClick={onClose} disabled={busy}>
              {common.cancel}
            </button>
            <button type="button" className="primary" onClick={() => void redeem()} disabled={busy}>
              {common.confirm}
            </button>
          </>
        )}
      </div>
    </dialog>
  );
}

function MyRedemptions({ round }: { round: number }): ReactNode {
  const [data, error] = useLoad(() => http.get<{ items: Redemption[] }>("/me/redemptions"), [round]);
  return (
    <>
      <h2>{t.myRedemptions}</h2>
      <ResidentError error={error} />
      {!data && !error ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>{t.redemptionsEmpty}</Empty> : null}
      <ul className="list">
        {data?.items.map((r) => (
          <li key={r.id} className="card">
            <div className="grow">
              <strong>{r.name}</strong>
              <div className="small muted">{time(r.created_at)}</div>
              {r.pickup_code ? (
                <div className="small">
                  {t.pickupCode}：<strong className="pickup-code">{r.pickup_code}</strong>
                </div>
              ) : null}
            </div>
            <span className="badge">{t.status[r.status] ?? r.status}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

function History({ round }: { round: number }): ReactNode {
  const [items, setItems] = useState<HistoryItem[]>([]);
  const [more, setMore] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [load, busy, error] = useAction(async (before?: string) => {
    const page = await http.get<{ items: HistoryItem[] }>(`/me/points/history${query({ before, limit: 20 })}`);
    setItems((old) => (before ? [...old, ...page.items] : page.items));
    setMore(page.items.length >= 20);
    setLoaded(true);
  });
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [round]);
  return (
    <>
      <h2>{t.history}</h2>
      <ResidentError error={error} />
      {!loaded && !error ? <Loading /> : null}
      {loaded && items.length === 0 ? <Empty>{t.historyEmpty}</Empty> : null}
      <ul className="list" aria-label={t.history}>
        {items.map((item) => (
          <li key={item.id} className="card">
            <div className="grow">
              <span>{t.rules[item.rule] ?? item.rule}</span>
              {item.note ? <span className="small muted"> {item.note === "capped" ? t.capped : item.note}</span> : null}
              <div className="small muted">{time(item.created_at)}</div>
            </div>
            <strong className={item.delta < 0 ? "points-minus" : "points-plus"}>
              {item.delta > 0 ? `+${item.delta}` : item.delta}
            </strong>
          </li>
        ))}
      </ul>
      {more ? (
        <button type="button" className="secondary" disabled={busy} onClick={() => void load(items[items.length - 1]?.created_at)}>
          {t.historyMore}
        </button>
      ) : null}
    </>
  );
}
