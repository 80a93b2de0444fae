// 社区洞察 (console, property staff and admins): hotness of the community's categories, the risk
// list, the effect of a live stream or group buy (before and during), and the week's suggestions.
// API: GET /insights/{hotness,risk,suggestions,effect}?community_id=…
import { useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { useStaffCommunity } from "../console/shared";
import { common, insights as t } from "../strings";
import { ErrorNote, Loading, Page, useLoad } from "../ui/kit";
import type { Effect, Hotness, Risk, Suggestions } from "./api";
import { HotnessTable, RiskList, SuggestionList } from "./parts";

function EffectView(): ReactNode {
  const [kind, setKind] = useState("live");
  const [id, setId] = useState("");
  const [effect, setEffect] = useState<Effect | null>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      setEffect(await http.get<Effect>(`/insights/effect${query({ kind, id: id.trim() })}`));
    } catch (err) {
      setEffect(null);
      setError(err);
    }
  };
  const metrics = ["members_joined", "messages", "orders", "gmv_fen"] as const;
  const show = (key: string, n: number): string => (key === "gmv_fen" ? common.yuan(n) : String(n));
  return (
    <section className="card" aria-labelledby="effect-title">
      <h2 id="effect-title">{t.effect.title}</h2>
      <form className="effect-form" onSubmit={(e) => void submit(e)}>
        <label>
          {t.effect.kind}
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            {Object.entries(t.effect.kinds).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label className="grow">
          {t.effect.id}
          <input value={id} onChange={(e) => setId(e.target.value)} required pattern="[0-9a-fA-F-]{36}" />
        </label>
        <button type="submit" className="primary">
          {t.effect.submit}
        </button>
      </form>
      <ErrorNote error={error} />
      {effect ? (
        <table className="insight-table" aria-label={effect.title}>
          <caption>{effect.title}</caption>
          <thead>
            <tr>
              <th scope="col">{t.effect.metric}</th>
              <th scope="col">{t.effect.before}</th>
              <th scope="col">{t.effect.during}</th>
              <th scope="col">{t.effect.change}</th>
            </tr>
          </thead>
          <tbody>
            {metrics.map((key) => (
              <tr key={key}>
                <th scope="row">{t.effect.metrics[key]}</th>
                <td>{show(key, effect.before[key])}</td>
                <td>{show(key, effect.during[key])}</td>
                <td>{effect.change_percent[key] === null || effect.change_percent[key] === undefined ? t.hotness.trendNone : t.hotness.trendValue(effect.change_percent[key] as number)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

export default function CommunityInsightsPage(): ReactNode {
  const [community, picker] = useStaffCommunity();
  const scope = community ? query({ community_id: community.id }) : "";
  const [hot, hotError, reload] = useLoad(() => http.get<Hotness[]>(`/insights/hotness${scope}`), [scope]);
  const [risk, riskError] = useLoad(() => http.get<Risk[]>(`/insights/risk${scope}`), [scope]);
  const [tips, tipsError] = useLoad(
    () => (community ? http.get<Suggestions>(`/insights/suggestions${scope}`) : Promise.resolve(undefined)),
    [scope],
  );
  return (
    <Page title={t.consoleTitle} actions={<button type="button" onClick={reload}>{t.refresh}</button>}>
      {picker}
      {community ? (
        <section className="card" aria-labelledby="tips-title">
          <h2 id="tips-title">{t.suggestions.title}</h2>
          <ErrorNote error={tipsError} />
          <SuggestionList data={tips} />
        </section>
      ) : null}
      <section className="card" aria-labelledby="hot-title">
        <h2 id="hot-title">{t.hotness.title}</h2>
        <ErrorNote error={hotError} />
        {hot ? <HotnessTable rows={hot} /> : hotError ? null : <Loading />}
      </section>
      <section className="card" aria-labelledby="risk-title">
        <h2 id="risk-title">{t.risk.title}</h2>
        <ErrorNote error={riskError} />
        {risk ? <RiskList rows={risk} /> : riskError ? null : <Loading />}
      </section>
      <EffectView />
    </Page>
  );
}
