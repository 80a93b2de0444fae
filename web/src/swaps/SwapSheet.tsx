// On a listing: the 可置换 tag, the owner's switch that opens a listing to swaps, and the
// 提出置换 sheet (pick one of my listings, an optional difference and who pays it).
import { useState, type ReactNode } from "react";
import { useNavigate } from "react-router";

import { http } from "../api/http";
import { swaps } from "../strings";
import { ErrorNote, useAction, useLoad } from "../ui/kit";
import { type Listing, type Page } from "../resident/types";
import { type Swap } from "./types";
import "./swaps.css";

export function SwapTag(): ReactNode {
  return <span className="tag swap-tag">{swaps.tag}</span>;
}

/** The owner opens (or closes) a resident sale listing to swap offers. */
export function SwapToggle({ listing }: { listing: Listing }): ReactNode {
  const [on, setOn] = useState(Boolean(listing.swap_ok));
  const [toggle, busy, error] = useAction(async (next: boolean) => {
    const got = await http.put<{ swap_ok: boolean }>(`/listings/${listing.id}/swap-ok`, { swap_ok: next });
    setOn(got.swap_ok);
  });
  if (listing.kind !== "sale" || listing.merchant_id || listing.status !== "active") return null;
  return (
    <div className="card">
      <label className="choice">
        <input type="checkbox" checked={on} disabled={busy} onChange={(e) => void toggle(e.target.checked)} />
        {swaps.openToggle}
      </label>
      <ErrorNote error={error} />
    </div>
  );
}

// Yuan as typed ("12.5") to integer fen; null when it is not a valid amount.
function toFen(text: string): number | null {
  const t = text.trim();
  if (t === "") return 0;
  if (!/^\d{1,7}(\.\d{1,2})?$/.test(t)) return null;
  const [whole, part = ""] = t.split(".");
  const fen = Number(whole) * 100 + Number(part.padEnd(2, "0"));
  return fen <= 100_000_000 ? fen : null;
}

export function SwapSheet({ listing }: { listing: Listing }): ReactNode {
  const navigate = useNavigate();
  const [mine] = useLoad(() => http.get<Page<Listing>>("/me/listings?limit=100"), []);
  const choices = (mine?.items ?? []).filter((l) => l.status === "active" && l.kind === "sale" && !l.merchant_id && l.id !== listing.id);
  const [picked, setPicked] = useState("");
  const [diffText, setDiffText] = useState("");
  const [payer, setPayer] = useState<"proposer" | "owner">("proposer");
  const [message, setMessage] = useState("");
  const fen = toFen(diffText);
  const chosen = picked || choices[0]?.id || "";
  const [submit, busy, error] = useAction(async () => {
    if (fen === null || !chosen) return;
    await http.post<Swap>("/swaps", {
      listing_id: listing.id,
      offered_listing_id: chosen,
      difference_fen: fen,
      difference_payer: fen > 0 ? payer : null,
      message,
    });
    await navigate("/me/swaps?role=out");
  });
  const s = swaps;
  return (
    <form
      className="card form swap-sheet"
      aria-labelledby="swap-sheet"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="swap-sheet">{s.sheetTitle}</h2>
      {mine && choices.length === 0 ? <p className="muted">{s.noneOfMine}</p> : null}
      {choices.length ? (
        <label htmlFor="swap-mine">
          {s.pickMine}
          <select id="swap-mine" value={chosen} onChange={(e) => setPicked(e.target.value)}>
            {choices.map((l) => (
              <option key={l.id} value={l.id}>
                {l.title}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <label htmlFor="swap-difference">
        {s.difference}
        <input
          id="swap-difference"
          inputMode="decimal"
          value={diffText}
          aria-invalid={fen === null}
          aria-describedby={fen === null ? "swap-difference-error" : undefined}
          onChange={(e) => setDiffText(e.target.value)}
        />
        {fen === null ? (
          <span id="swap-difference-error" className="error">
            {s.differenceError}
          </span>
        ) : null}
      </label>
      {fen ? (
        <fieldset className="choices">
          <legend>{s.payer}</legend>
          {(["proposer", "owner"] as const).map((p) => (
            <label key={p} className="choice">
              <input type="radio" name="swap-payer" value={p} checked={payer === p} onChange={() => setPayer(p)} />
              {s.payers[p]}
            </label>
          ))}
        </fieldset>
      ) : null}
      <label htmlFor="swap-message">
        {s.message}
        <textarea id="swap-message" maxLength={500} value={message} onChange={(e) => setMessage(e.target.value)} />
      </label>
      <ErrorNote error={error} />
      <button type="submit" className="primary wide" disabled={busy || fen === null || !chosen}>
        {s.submit}
      </button>
    </form>
  );
}
