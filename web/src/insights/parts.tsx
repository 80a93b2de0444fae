// What the merchant's and the console's insight screens share: hotness, risk, suggestions.
import { type ReactNode } from "react";

import { common, insights as t } from "../strings";
import type { Bucket, Hotness, Risk, Suggestions } from "./api";
import "./insights.css";

export function HotnessTable({ rows }: { rows: Hotness[] }): ReactNode {
  if (rows.length === 0) return <p className="muted">{t.hotness.empty}</p>;
  const top = Math.max(...rows.map((r) => r.score), 1);
  return (
    <table className="insight-table">
      <thead>
        <tr>
          <th scope="col">{t.hotness.category}</th>
          <th scope="col">{t.hotness.score}</th>
          <th scope="col">{t.hotness.views}</th>
          <th scope="col">{t.hotness.favourites}</th>
          <th scope="col">{t.hotness.searches}</th>
          <th scope="col">{t.hotness.orders}</th>
          <th scope="col">{t.hotness.gmv}</th>
          <th scope="col">{t.hotness.trend}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.category}>
            <th scope="row">{r.name}</th>
            <td>
              <span className="heat" aria-hidden="true" style={{ width: `${Math.round((r.score / top) * 100)}%` }} />
              {r.score.toFixed(1)}
            </td>
            <td>{r.views}</td>
            <td>{r.favourites}</td>
            <td>{r.searches}</td>
            <td>{r.orders}</td>
            <td>{common.yuan(r.gmv_fen)}</td>
            <td>{r.trend_percent === null ? t.hotness.trendNone : t.hotness.trendValue(r.trend_percent)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RiskList({ rows }: { rows: Risk[] }): ReactNode {
  if (rows.length === 0) return <p className="muted">{t.risk.empty}</p>;
  return (
    <ul className="list risk-list">
      {rows.map((r) => (
        <li key={`${r.subject_kind}:${r.subject_id}`} className="card">
          <span className={`badge risk-${r.level}`}>{t.risk.levels[r.level]}</span>
          <span className="tag">{t.risk.kinds[r.subject_kind]}</span>
          <strong>{r.name || r.subject_id.slice(0, 8)}</strong>
          <span className="muted">{t.risk.score(r.score)}</span>
          <span>{r.reasons.join("，")}</span>
        </li>
      ))}
    </ul>
  );
}

export function SuggestionList({ data }: { data: Suggestions | undefined }): ReactNode {
  if (!data || data.items.length === 0) return <p className="muted">{t.suggestions.empty}</p>;
  return (
    <>
      {data.week ? <p className="muted small">{t.suggestions.week(data.week)}</p> : null}
      <ul className="suggestions">
        {data.items.map((item, i) => (
          <li key={i}>{item.text}</li>
        ))}
      </ul>
    </>
  );
}

export function Buckets({ title, rows, labels }: { title: string; rows: Bucket[]; labels?: Record<string, string> }): ReactNode {
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  return (
    <section className="card buckets">
      <h3>{title}</h3>
      {rows.length === 0 ? (
        <p className="muted">{t.portrait.none}</p>
      ) : (
        <ul>
          {rows.map((r) => (
            <li key={r.label}>
              <span>{labels?.[r.label] ?? r.label}</span>
              <span className="bar" aria-hidden="true" style={{ width: `${Math.round((r.count / total) * 100)}%` }} />
              <span>{r.count}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
