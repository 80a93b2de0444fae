// "Call the seller" on a listing: a virtual number bound to the buyer and the seller for a
// limited time, or — when the seller has no plan — the platform's guidance (vision §7).
import { useState, type ReactNode } from "react";

import { http } from "../api/http";
import { resident, subscriptions } from "../strings";
import { useAction } from "../ui/kit";
import { type CallAnswer } from "./api";
import { SubsError } from "./SubsError";

const t = subscriptions.call;

export function CallSeller({ listingId }: { listingId: string }): ReactNode {
  const [answer, setAnswer] = useState<CallAnswer | null>(null);
  const [ask, busy, error] = useAction(async () => {
    setAnswer(await http.post<CallAnswer>(`/listings/${listingId}/call`));
  });
  return (
    <div className="card call-seller">
      <button type="button" className="secondary" disabled={busy} onClick={() => void ask()}>
        {t.button}
      </button>
      <SubsError error={error} />
      {answer?.mode === "number" && answer.number ? (
        <div role="status">
          <p>
            <a className="button-link primary" href={`tel:${answer.number}`}>
              {t.number} {answer.number}
            </a>
          </p>
          <p className="muted small">{t.expires(resident.time(answer.expires_at))}</p>
        </div>
      ) : null}
      {answer?.mode === "guidance" ? (
        <div role="status" aria-labelledby="call-guidance">
          <h2 id="call-guidance">{t.guidanceTitle}</h2>
          {answer.reason === "seller_quota_reached" ? <p>{t.quota}</p> : null}
          <ul className="benefits">
            {(answer.guidance ?? []).map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
