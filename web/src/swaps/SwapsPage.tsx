// 我的置换: offers for my listings (收到的) and offers I made (发出的), and every step of a swap:
// accept or decline, withdraw, pay the difference, confirm the face-to-face exchange, rate.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";

import { http, query } from "../api/http";
import { realtime } from "../api/realtime";
import { useSession } from "../session";
import { common, swaps } from "../strings";
import { Empty, ErrorNote, Loading, Page, useAction, useLoad } from "../ui/kit";
import { type Page as Paged } from "../resident/types";
import { type Swap } from "./types";
import "./swaps.css";

/** Reads the list again on every `swap:updated` push and after each (re)connect. */
function useSwapUpdates(reload: () => void): void {
  const latest = useRef(reload);
  latest.current = reload;
  useEffect(() => {
    const rt = realtime("/");
    const stops: Array<() => void> = [];
    let live = true;
    const keep = (stop: () => void): void => {
      if (live) stops.push(stop);
      else stop();
    };
    for (const event of ["swap:updated", "connect"]) {
      rt.on(event, () => latest.current())
        .then(keep)
        .catch(() => undefined);
    }
    return () => {
      live = false;
      for (const stop of stops) stop();
    };
  }, []);
}

export default function SwapsPage(): ReactNode {
  const [params, setParams] = useSearchParams();
  const role = params.get("role") === "out" ? "out" : "in";
  const [page, error, reload] = useLoad(() => http.get<Paged<Swap>>(`/swaps${query({ role, limit: 50 })}`), [role]);
  useSwapUpdates(reload);
  const s = swaps;
  return (
    <Page title={s.title}>
      <div className="segmented swap-tabs" role="group" aria-label={s.title}>
        {(["in", "out"] as const).map((r) => (
          <button key={r} type="button" aria-pressed={role === r} className={role === r ? "primary" : "secondary"} onClick={() => setParams({ role: r })}>
            {s.tabs[r]}
          </button>
        ))}
      </div>
      <ErrorNote error={error} />
      {page === undefined && !error ? <Loading /> : null}
      {page && page.items.length === 0 ? <Empty>{s.empty}</Empty> : null}
      <ul className="list">
        {page?.items.map((swap) => (
          <SwapCard key={swap.id} swap={swap} onChanged={reload} />
        ))}
      </ul>
    </Page>
  );
}

function SwapCard({ swap, onChanged }: { swap: Swap; onChanged: () => void }): ReactNode {
  const { me } = useSession();
  const navigate = useNavigate();
  const s = swaps;
  const owner = swap.my_side === "owner";
  const [act, busy, error] = useAction(async (step: string) => {
    if (step === "cancel" && !window.confirm(s.actions.cancelConfirm)) return;
    await http.post<Swap>(`/swaps/${swap.id}/${step}`);
    onChanged();
  });
  const mineConfirmed = owner ? swap.owner_confirmed_at : swap.proposer_confirmed_at;
  const theirsConfirmed = owner ? swap.proposer_confirmed_at : swap.owner_confirmed_at;
  const payerIsMe = swap.payer_id !== null && swap.payer_id === me?.id;
  const needsPay = swap.status === "accepted" && swap.difference_fen > 0;
  const canConfirm = !mineConfirmed && (swap.status === "paid" || (swap.status === "accepted" && swap.difference_fen === 0));
  const heading = owner ? s.gives(swap.offered_title) : s.wants(swap.listing_title);
  return (
    <li className="card swap-card" aria-label={heading}>
      <h3>{heading}</h3>
      <div className="swap-pair">
        <Link to={`/listings/${owner ? swap.listing_id : swap.offered_listing_id}`}>
          {s.mine}：{owner ? swap.listing_title : swap.offered_title}
        </Link>
        <span className="swap-arrow" aria-hidden="true">
          ⇄
        </span>
        <Link to={`/listings/${owner ? swap.offered_listing_id : swap.listing_id}`}>
          {s.theirs}：{owner ? swap.offered_title : swap.listing_title}
        </Link>
      </div>
      <p className="row">
        <span className={`badge status-${swap.status}`}>{s.statuses[swap.status] ?? swap.status}</span>
        {swap.difference_fen > 0 ? <span className="muted small">{s.differenceLine(common.yuan(swap.difference_fen), payerIsMe)}</span> : null}
      </p>
      {swap.message ? <p className="muted small">{swap.message}</p> : null}
      {mineConfirmed && swap.status !== "completed" ? <p className="muted small">{s.confirmedByMe}</p> : null}
      {theirsConfirmed && !mineConfirmed && swap.status !== "completed" ? <p className="muted small">{s.confirmedByThem}</p> : null}
      <ErrorNote error={error} />
      <div className="actions">
        {swap.status === "offered" && owner ? (
          <>
            <button type="button" className="primary" disabled={busy} onClick={() => void act("accept")}>
              {s.actions.accept}
            </button>
            <button type="button" className="secondary" disabled={busy} onClick={() => void act("decline")}>
              {s.actions.decline}
            </button>
          </>
        ) : null}
        {swap.status === "offered" && !owner ? (
          <button type="button" className="secondary" disabled={busy} onClick={() => void act("withdraw")}>
            {s.actions.withdraw}
          </button>
        ) : null}
        {needsPay && payerIsMe ? (
          <button type="button" className="primary" disabled={busy} onClick={() => void navigate(`/swaps/${swap.id}/pay`)}>
            {s.actions.pay}
          </button>
        ) : null}
        {canConfirm ? (
          <button type="button" className="primary" disabled={busy} onClick={() => void act("confirm")}>
            {s.actions.confirm}
          </button>
        ) : null}
        {swap.status === "accepted" || swap.status === "paid" ? (
          <button type="button" className="danger" disabled={busy} onClick={() => void act("cancel")}>
            {s.actions.cancel}
          </button>
        ) : null}
      </div>
      {swap.status === "completed" ? <RateForm swap={swap} /> : null}
    </li>
  );
}

function RateForm({ swap }: { swap: Swap }): ReactNode {
  const { me } = useSession();
  const [ratings, , reload] = useLoad(() => http.get<Array<{ rater_id: string }>>(`/swaps/${swap.id}/ratings`), [swap.id]);
  const [score, setScore] = useState(5);
  const [comment, setComment] = useState("");
  const [rate, busy, error] = useAction(async () => {
    await http.post(`/swaps/${swap.id}/ratings`, { score, comment });
    reload();
  });
  const s = swaps;
  if (!ratings) return null;
  if (ratings.some((r) => r.rater_id === me?.id)) return <p className="muted small">{s.rated}</p>;
  const scoreId = `swap-score-${swap.id}`;
  const commentId = `swap-comment-${swap.id}`;
  return (
    <form
      className="form"
      aria-label={s.rateTitle}
      onSubmit={(e) => {
        e.preventDefault();
        void rate();
      }}
    >
      <label htmlFor={scoreId}>
        {s.score}
        <select id={scoreId} value={score} onChange={(e) => setScore(Number(e.target.value))}>
          {[5, 4, 3, 2, 1].map((n) => (
            <option key={n} value={n}>
              {"★".repeat(n)}
            </option>
          ))}
        </select>
      </label>
      <label htmlFor={commentId}>
        {s.comment}
        <input id={commentId} maxLength={500} value={comment} onChange={(e) => setComment(e.target.value)} />
      </label>
      <ErrorNote error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {s.actions.rate}
      </button>
    </form>
  );
}
