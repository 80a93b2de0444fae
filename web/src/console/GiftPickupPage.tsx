// 礼品核销: property staff and admins hand over a gift redeemed for points when the resident shows
// its pickup code (docs/points.md, "Handing gifts over"). The API decides who may see a code.
import { useState, type FormEvent, type ReactNode } from "react";

import { http } from "../api/http";
import { points } from "../strings";
import { Page, useAction } from "../ui/kit";
import { ErrorNote } from "./shared";

const t = points.pickupDesk;

interface Gift {
  id: string;
  name: string;
  status: string;
  pickup: "locker" | "merchant" | null;
  phone: string;
  created_at: string;
}

export function GiftPickupPage(): ReactNode {
  const [code, setCode] = useState("");
  const [gift, setGift] = useState<Gift | null>(null);
  const [notice, setNotice] = useState("");
  const [lookUp, looking, lookError] = useAction(async () => {
    setGift(null);
    setNotice("");
    setGift(await http.post<Gift>("/points-gifts/look-up", { pickup_code: code }));
  });
  const [handOver, handing, handError] = useAction(async () => {
    const done = await http.post<Gift>("/points-gifts/hand-over", { pickup_code: code });
    setNotice(t.handedOver(done.name));
    setGift(null);
    setCode("");
  });
  const onSubmit = (event: FormEvent): void => {
    event.preventDefault();
    void lookUp();
  };
  return (
    <Page title={t.title}>
      <p className="muted">{t.intro}</p>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <form className="card form" onSubmit={onSubmit} aria-label={t.title}>
        <label>
          {t.code}
          <input
            value={code}
            required
            maxLength={20}
            autoComplete="off"
            autoCapitalize="characters"
            onChange={(e) => setCode(e.target.value)}
          />
        </label>
        <ErrorNote error={lookError} />
        <div className="row">
          <button type="submit" className="primary" disabled={looking}>
            {t.lookUp}
          </button>
        </div>
      </form>
      {gift ? (
        <section className="card" aria-label={t.gift}>
          <dl className="console-facts">
            <dt>{t.gift}</dt>
            <dd>{gift.name}</dd>
            <dt>{t.resident}</dt>
            <dd>{gift.phone}</dd>
            <dt>{t.redeemedAt}</dt>
            <dd>{new Date(gift.created_at).toLocaleString("zh-CN")}</dd>
            <dt>{t.pickup}</dt>
            <dd>{gift.pickup ? points.pickup[gift.pickup] : ""}</dd>
            <dt>{t.status}</dt>
            <dd>{points.status[gift.status] ?? gift.status}</dd>
          </dl>
          <ErrorNote error={handError} />
          {gift.status === "awaiting_pickup" ? (
            <button type="button" className="primary" disabled={handing} onClick={() => void handOver()}>
              {t.handOver}
            </button>
          ) : null}
        </section>
      ) : null}
    </Page>
  );
}
