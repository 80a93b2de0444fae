// Hand-written SVG charts for the dashboard (no chart library: a few hundred bytes beat 100 KB).
// Each chart is one image to assistive technology (role="img" with a sentence that says what it
// shows) and carries its numbers in a visually hidden table, so nothing is only in the picture.
import { type ReactNode } from "react";

import { common, merchant as t } from "../strings";
import type { Dashboard, DayStats } from "./api";

const W = 720;
const H = 240;
const PAD = { left: 48, right: 56, top: 16, bottom: 32 };

/** A round upper bound for an axis: 1, 2, 5 × 10^n. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function shortDay(day: string): string {
  const [, month, date] = day.split("-");
  return `${Number(month)}/${Number(date)}`;
}

/** Orders per day as bars, revenue as a line, over the last 30 days. */
export function TrendChart({ days }: { days: DayStats[] }): ReactNode {
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const maxOrders = niceMax(Math.max(0, ...days.map((d) => d.orders)));
  // At least ¥1 on the axis, so an empty month does not read "¥0.01".
  const maxRevenue = niceMax(Math.max(100, ...days.map((d) => d.revenue_fen)));
  const slot = innerW / Math.max(days.length, 1);
  const x = (i: number): number => PAD.left + slot * i + slot / 2;
  const yOrders = (n: number): number => PAD.top + innerH - (n / maxOrders) * innerH;
  const yRevenue = (fen: number): number => PAD.top + innerH - (Math.max(fen, 0) / maxRevenue) * innerH;
  const line = days.map((d, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${yRevenue(d.revenue_fen).toFixed(1)}`).join(" ");
  const totalOrders = days.reduce((s, d) => s + d.orders, 0);
  const totalRevenue = days.reduce((s, d) => s + d.revenue_fen, 0);
  const label = t.dashboard.trendLabel(days.length, totalOrders, common.yuan(totalRevenue));
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} className="chart-svg" data-testid="trend-chart">
        <g className="grid-lines" aria-hidden="true">
          {[0, 0.5, 1].map((f) => (
            <line key={f} x1={PAD.left} x2={W - PAD.right} y1={PAD.top + innerH * (1 - f)} y2={PAD.top + innerH * (1 - f)} />
          ))}
        </g>
        <g aria-hidden="true" className="axis">
          <text x={PAD.left - 6} y={PAD.top + 4} textAnchor="end">{maxOrders}</text>
          <text x={PAD.left - 6} y={PAD.top + innerH} textAnchor="end">0</text>
          <text x={W - PAD.right + 6} y={PAD.top + 4}>{common.yuan(maxRevenue).replace(/\.00$/, "")}</text>
          {days.map((d, i) =>
            i % 5 === 0 || i === days.length - 1 ? (
              <text key={d.day} x={x(i)} y={H - 10} textAnchor="middle">{shortDay(d.day)}</text>
            ) : null,
          )}
        </g>
        <g className="bars" aria-hidden="true">
          {days.map((d, i) => (
            <rect
              key={d.day}
              x={x(i) - slot * 0.3}
              width={slot * 0.6}
              y={yOrders(d.orders)}
              height={PAD.top + innerH - yOrders(d.orders)}
            />
          ))}
        </g>
        {days.length > 0 ? <path d={line} className="revenue-line" aria-hidden="true" /> : null}
      </svg>
      <figcaption className="legend">
        <span className="legend-bar" aria-hidden="true" /> {t.dashboard.legendOrders}
        <span className="legend-line" aria-hidden="true" /> {t.dashboard.legendRevenue}
      </figcaption>
      {/* A table ignores width and height: the wrapper is what hides it without making the page tall. */}
      <div className="sr-only">
      <table>
        <caption>{t.dashboard.trend}</caption>
        <thead>
          <tr>
            <th scope="col">{t.dashboard.day}</th>
            <th scope="col">{t.dashboard.orders}</th>
            <th scope="col">{t.dashboard.revenue}</th>
            <th scope="col">{t.dashboard.completed}</th>
            <th scope="col">{t.dashboard.refunded}</th>
          </tr>
        </thead>
        <tbody>
          {days.map((d) => (
            <tr key={d.day}>
              <th scope="row">{d.day}</th>
              <td>{d.orders}</td>
              <td>{common.yuan(d.revenue_fen)}</td>
              <td>{d.completed}</td>
              <td>{d.refunded}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}

/** This month's best sellers by revenue as horizontal bars. */
export function TopChart({ services }: { services: Dashboard["top_services"] }): ReactNode {
  const top = services.slice(0, 10);
  const rowH = 28;
  const labelW = 180;
  const valueW = 110;
  const height = Math.max(top.length, 1) * rowH + 8;
  const max = Math.max(1, ...top.map((s) => s.revenue_fen));
  const barMax = W - labelW - valueW;
  const first = top[0];
  const label = t.dashboard.topLabel(top.length, first ? `${first.title} ${common.yuan(first.revenue_fen)}` : "");
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-label={label} className="chart-svg" data-testid="top-chart">
        {top.map((s, i) => {
          const y = 4 + i * rowH;
          const width = Math.max(2, (s.revenue_fen / max) * barMax);
          const title = s.title.length > 12 ? `${s.title.slice(0, 12)}…` : s.title;
          return (
            <g key={s.listing_id} aria-hidden="true">
              <text x={labelW - 8} y={y + rowH / 2 + 4} textAnchor="end" className="axis">{`${i + 1}. ${title}`}</text>
              <rect x={labelW} y={y + 4} width={width} height={rowH - 10} className="top-bar" />
              <text x={labelW + width + 6} y={y + rowH / 2 + 4} className="axis">{t.dashboard.topValue(common.yuan(s.revenue_fen), s.orders)}</text>
            </g>
          );
        })}
      </svg>
      <div className="sr-only">
      <table>
        <caption>{t.dashboard.top}</caption>
        <thead>
          <tr>
            <th scope="col">{t.dashboard.rank}</th>
            <th scope="col">{t.dashboard.service}</th>
            <th scope="col">{t.dashboard.orders}</th>
            <th scope="col">{t.dashboard.revenue}</th>
          </tr>
        </thead>
        <tbody>
          {top.map((s, i) => (
            <tr key={s.listing_id}>
              <td>{i + 1}</td>
              <th scope="row">{s.title}</th>
              <td>{s.orders}</td>
              <td>{common.yuan(s.revenue_fen)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}
