// 广告曝光 (admins, desktop): sell a slot to a brand — brand, campaign and its price, the card
// (title, link, picture), the schedule window, the target communities and seconds on screen —
// and read each campaign's report (showings, impressions, unique viewers, clicks, CTR) or export
// it as CSV. API: /sponsored/* (docs/sponsored.md).
import { useState, type FormEvent, type ReactNode } from "react";

import { API, http, query } from "../api/http";
import { common, sponsored } from "../strings";
import { Empty, ErrorNote, Loading, Page, useAction, useLoad } from "../ui/kit";
import { type Campaign, type Report } from "./types";
import "./sponsored.css";

interface Community {
  id: string;
  name: string;
}

function localInput(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function yuanToFen(text: string): number | null {
  const t = text.trim();
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(t)) return null;
  const [whole, part = ""] = t.split(".");
  return Number(whole) * 100 + Number(part.padEnd(2, "0"));
}

export default function SponsoredConsolePage(): ReactNode {
  const [campaigns, error, reload] = useLoad(() => http.get<Campaign[]>("/sponsored/campaigns"), []);
  const [open, setOpen] = useState<string | null>(null);
  const s = sponsored;
  return (
    <Page title={s.title}>
      <p className="muted">{s.intro}</p>
      <NewCampaign onCreated={(id) => {
        reload();
        setOpen(id);
      }} />
      <h2>{s.campaigns}</h2>
      <ErrorNote error={error} />
      {campaigns === undefined && !error ? <Loading /> : null}
      {campaigns && campaigns.length === 0 ? <Empty>{s.empty}</Empty> : null}
      <ul className="list">
        {campaigns?.map((c) => (
          <li key={c.id} className="card">
            <p className="row">
              <strong className="grow">
                {c.brand_name} · {c.name}
              </strong>
              <span>{common.yuan(c.price_fen)}</span>
              <button type="button" className="secondary" aria-expanded={open === c.id} onClick={() => setOpen(open === c.id ? null : c.id)}>
                {s.report}
              </button>
            </p>
            {open === c.id ? <CampaignReport campaignId={c.id} /> : null}
          </li>
        ))}
      </ul>
    </Page>
  );
}

function NewCampaign({ onCreated }: { onCreated: (campaignId: string) => void }): ReactNode {
  const [communities] = useLoad(() => http.get<{ items: Community[] }>(`/communities${query({ limit: 100 })}`), []);
  const now = new Date();
  const [brand, setBrand] = useState("");
  const [name, setName] = useState("");
  const [price, setPrice] = useState("");
  const [title, setTitle] = useState("");
  const [link, setLink] = useState("");
  const [image, setImage] = useState<File | null>(null);
  const [targets, setTargets] = useState<string[]>([]);
  const [startsAt, setStartsAt] = useState(localInput(new Date(now.getTime() - 60_000)));
  const [endsAt, setEndsAt] = useState(localInput(new Date(now.getTime() + 7 * 86_400_000)));
  const [duration, setDuration] = useState("30");
  const [done, setDone] = useState(false);
  const fen = yuanToFen(price);
  const [create, busy, error] = useAction(async () => {
    if (fen === null) return;
    setDone(false);
    // A brand buys again under its name: reuse it rather than answer brand_exists.
    const known = (await http.get<Array<{ id: string; name: string }>>("/sponsored/brands")).find((b) => b.name === brand.trim());
    const madeBrand = known ?? (await http.post<{ id: string }>("/sponsored/brands", { name: brand }));
    const campaign = await http.post<Campaign>("/sponsored/campaigns", { brand_id: madeBrand.id, name, price_fen: fen });
    const creative = await http.post<{ id: string }>(`/sponsored/campaigns/${campaign.id}/creatives`, { title, link_url: link });
    if (image) await http.upload(`/sponsored/creatives/${creative.id}/image`, image, image.name, "PUT");
    await http.post(`/sponsored/campaigns/${campaign.id}/slots`, {
      creative_id: creative.id,
      starts_at: new Date(startsAt).toISOString(),
      ends_at: new Date(endsAt).toISOString(),
      community_ids: targets,
      duration_s: Number(duration),
    });
    setDone(true);
    onCreated(campaign.id);
  });
  const s = sponsored;
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void create();
  };
  return (
    <form className="card form" aria-labelledby="sponsor-new" onSubmit={submit}>
      <h2 id="sponsor-new">{s.newTitle}</h2>
      <label htmlFor="sp-brand">
        {s.brand}
        <input id="sp-brand" required maxLength={60} value={brand} onChange={(e) => setBrand(e.target.value)} />
      </label>
      <label htmlFor="sp-name">
        {s.campaign}
        <input id="sp-name" required maxLength={60} value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label htmlFor="sp-price">
        {s.price}
        <input id="sp-price" required inputMode="decimal" value={price} aria-invalid={price !== "" && fen === null} onChange={(e) => setPrice(e.target.value)} />
      </label>
      <label htmlFor="sp-title">
        {s.creativeTitle}
        <input id="sp-title" required maxLength={40} value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label htmlFor="sp-link">
        {s.link}
        <input id="sp-link" required maxLength={500} value={link} onChange={(e) => setLink(e.target.value)} />
      </label>
      <label htmlFor="sp-image">
        {s.image}
        <input id="sp-image" type="file" accept="image/jpeg,image/png,image/webp" onChange={(e) => setImage(e.target.files?.[0] ?? null)} />
      </label>
      <fieldset className="choices">
        <legend>{s.communities}</legend>
        {communities?.items.map((c) => (
          <label key={c.id} className="choice">
            <input
              type="checkbox"
              checked={targets.includes(c.id)}
              onChange={(e) => setTargets(e.target.checked ? [...targets, c.id] : targets.filter((t) => t !== c.id))}
            />
            {c.name}
          </label>
        ))}
      </fieldset>
      <label htmlFor="sp-starts">
        {s.startsAt}
        <input id="sp-starts" type="datetime-local" required value={startsAt} onChange={(e) => setStartsAt(e.target.value)} />
      </label>
      <label htmlFor="sp-ends">
        {s.endsAt}
        <input id="sp-ends" type="datetime-local" required value={endsAt} onChange={(e) => setEndsAt(e.target.value)} />
      </label>
      <label htmlFor="sp-duration">
        {s.duration}
        <input id="sp-duration" type="number" min={5} max={600} required value={duration} onChange={(e) => setDuration(e.target.value)} />
      </label>
      <ErrorNote error={error} />
      {done ? (
        <p className="notice" role="status">
          {s.created}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={busy || fen === null || targets.length === 0}>
        {s.create}
      </button>
    </form>
  );
}

function CampaignReport({ campaignId }: { campaignId: string }): ReactNode {
  const [report, error] = useLoad(() => http.get<Report>(`/sponsored/campaigns/${campaignId}/report`), [campaignId]);
  const s = sponsored;
  const c = s.columns;
  if (error) return <ErrorNote error={error} />;
  if (!report) return <Loading />;
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  return (
    <div className="sponsor-report">
      <table aria-label={`${s.report}：${report.campaign.name}`}>
        <thead>
          <tr>
            <th scope="col">{c.community}</th>
            <th scope="col">{c.creative}</th>
            <th scope="col">{c.shows}</th>
            <th scope="col">{c.impressions}</th>
            <th scope="col">{c.uniqueViewers}</th>
            <th scope="col">{c.clicks}</th>
            <th scope="col">{c.ctr}</th>
          </tr>
        </thead>
        <tbody>
          {report.lines.map((l) => (
            <tr key={`${l.slot_id}:${l.community_id}`}>
              <td>{l.community_name}</td>
              <td>{l.creative_title}</td>
              <td>{l.shows}</td>
              <td>{l.impressions}</td>
              <td>{l.unique_viewers}</td>
              <td>{l.clicks}</td>
              <td>{pct(l.ctr)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">{s.totals(report.totals.impressions ?? 0, report.totals.clicks ?? 0, pct(report.totals.ctr ?? 0))}</p>
      <a className="button-link" href={`${API}/sponsored/campaigns/${campaignId}/report.csv`} download>
        {s.exportCsv}
      </a>
    </div>
  );
}
