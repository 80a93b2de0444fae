// Lottery draws in a community's channel (docs/lottery.md): staff open a draw (socket
// `lottery:open`), draw it now or let the countdown end (`lottery:draw`), see the winners and
// follow the link that recomputes the draw from its published data (POST /lottery/verify).
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { type ChannelEvent } from "../api/channel";
import { http } from "../api/http";
import { realtime } from "../api/realtime";
import { consoleText } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { ConnectionBadge, ErrorNote, nameOf, useChannel, useMemberNames, useStaffCommunity } from "./shared";

const t = consoleText.draws;

interface Draw {
  id: string;
  community_id: string;
  prize: string;
  winner_count: number;
  eligibility: string;
  keyword: string | null;
  commitment: string;
  opened_at: string;
  draw_at: string;
  status: string;
  drawn_at: string | null;
  entries_hash: string | null;
  entry_count: number | null;
  winners: string[] | null;
  seed: string | null;
  entries?: string[] | null;
}

export function DrawsPage(): ReactNode {
  const [community, picker] = useStaffCommunity();
  const [draws, error, reload] = useLoad(
    () => (community ? http.get<Draw[]>(`/communities/${community.id}/lottery/draws`) : Promise.resolve([])),
    [community?.id],
  );
  // Every lottery event of the channel (opened, drawn, revealed) refreshes the list.
  const [, channel] = useChannel(community?.id, (event: ChannelEvent) => {
    if (event.type.startsWith("lottery.")) reload();
  });
  const names = useMemberNames(community?.id);
  const [drawNow, drawing, drawError] = useAction(async (draw: Draw) => {
    await realtime("/").request("lottery:draw", { community_id: draw.community_id, draw_id: draw.id });
    reload();
  });

  if (!community) {
    return (
      <Page title={t.title}>
        <Empty>{consoleText.noStaffCommunity}</Empty>
      </Page>
    );
  }
  return (
    <Page
      title={t.title}
      actions={
        <>
          {picker}
          <ConnectionBadge />
        </>
      }
    >
      <OpenDraw communityId={community.id} joined={channel.joined} onOpened={reload} />
      <h2>{t.list}</h2>
      <ErrorNote error={error ?? drawError} />
      {draws === undefined ? (
        error ? null : <Loading />
      ) : draws.length === 0 ? (
        <Empty>{t.none}</Empty>
      ) : (
        <ul className="list">
          {draws.map((d) => (
            <li key={d.id} className="card console-draw" data-draw={d.id}>
              <div className="console-grow">
                <h3>{d.prize}</h3>
                <div className="muted">
                  {t.eligibilities[d.eligibility] ?? d.eligibility}
                  {d.keyword ? ` · ${t.keyword}「${d.keyword}」` : ""} · {t.winners} {d.winner_count} ·{" "}
                  {d.status === "open" ? t.drawAt(consoleText.time(d.draw_at)) : consoleText.time(d.drawn_at)}
                </div>
                {d.winners ? (
                  <div className="console-result">
                    <strong>{t.result}</strong>
                    {d.entry_count !== null ? <span className="muted"> （{t.entries(d.entry_count)}）</span> : null}
                    {d.winners.length === 0 ? (
                      <p className="muted">{t.noWinners}</p>
                    ) : (
                      <ol aria-label={`${d.prize} ${t.result}`}>
                        {d.winners.map((w) => (
                          <li key={w}>{nameOf(names, w)}</li>
                        ))}
                      </ol>
                    )}
                    <Link to={`/console/draws/${d.id}`}>{t.verifyLink}</Link>
                  </div>
                ) : (
                  <p className="muted console-hash">
                    {t.commitment}：<code>{d.commitment}</code>
                  </p>
                )}
              </div>
              <span className={`badge ${d.status === "open" ? "pending" : "verified"}`}>{t.status[d.status] ?? d.status}</span>
              {d.status === "open" ? (
                <button type="button" className="primary" disabled={drawing || !channel.joined} onClick={() => void drawNow(d)}>
                  {drawing ? consoleText.busy : t.drawNow(d.prize)}
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

function OpenDraw({ communityId, joined, onOpened }: { communityId: string; joined: boolean; onOpened: () => void }): ReactNode {
  const [prize, setPrize] = useState("");
  const [winners, setWinners] = useState(1);
  const [eligibility, setEligibility] = useState("members");
  const [keyword, setKeyword] = useState("");
  const [countdown, setCountdown] = useState(60);
  const [invalid, setInvalid] = useState("");
  const [open, busy, error] = useAction(async () => {
    await realtime("/").request("lottery:open", {
      community_id: communityId,
      prize: prize.trim(),
      winner_count: winners,
      eligibility,
      countdown_s: countdown,
      ...(eligibility === "keyword" ? { keyword: keyword.trim() } : {}),
    });
    setPrize("");
    onOpened();
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (!prize.trim()) return setInvalid(t.prizeRequired);
    if (eligibility === "keyword" && !keyword.trim()) return setInvalid(t.keywordRequired);
    setInvalid("");
    void open();
  };
  return (
    <form className="card form console-draw-form" onSubmit={submit} noValidate aria-labelledby="open-draw-title">
      <h2 id="open-draw-title">{t.create}</h2>
      <div className="console-fields">
        <label>
          {t.prize}
          <input value={prize} maxLength={200} onChange={(e) => setPrize(e.target.value)} aria-invalid={invalid === t.prizeRequired} />
        </label>
        <label>
          {t.winners}
          <input type="number" min={1} max={1000} value={winners} onChange={(e) => setWinners(Math.max(1, Math.min(1000, Number(e.target.value) || 1)))} />
        </label>
        <label>
          {t.eligibility}
          <select value={eligibility} onChange={(e) => setEligibility(e.target.value)}>
            {Object.entries(t.eligibilities).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {eligibility === "keyword" ? (
          <label>
            {t.keyword}
            <input value={keyword} maxLength={50} onChange={(e) => setKeyword(e.target.value)} aria-invalid={invalid === t.keywordRequired} />
          </label>
        ) : null}
        <label>
          {t.countdown}
          <input type="number" min={0} max={3600} value={countdown} onChange={(e) => setCountdown(Math.max(0, Math.min(3600, Number(e.target.value) || 0)))} />
        </label>
      </div>
      {invalid ? <p className="error">{invalid}</p> : null}
      <ErrorNote error={error} />
      <div>
        <button type="submit" className="primary" disabled={busy || !joined}>
          {busy ? consoleText.busy : t.open}
        </button>
      </div>
    </form>
  );
}

interface Verdict {
  valid: boolean;
  checks: Record<string, boolean>;
  recomputed_winners: string[];
}

/** The verification page: the draw's published data, recomputed by the API's verifier. */
export function DrawVerifyPage(): ReactNode {
  const { drawId } = useParams();
  const [draw, error] = useLoad(() => http.get<Draw>(`/lottery/draws/${drawId ?? ""}`), [drawId]);
  const names = useMemberNames(draw?.community_id);
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [verify, busy, verifyError] = useAction(async (d: Draw) => {
    setVerdict(
      await http.post<Verdict>("/lottery/verify", {
        commitment: d.commitment,
        seed: d.seed,
        entries: d.entries ?? [],
        entries_hash: d.entries_hash,
        winners: d.winners ?? [],
        winner_count: d.winner_count,
      }),
    );
  });
  useEffect(() => {
    if (draw?.seed) void verify(draw);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draw]);
  return (
    <Page title={t.verifyTitle} actions={<Link to="/console/draws">{t.back}</Link>}>
      <ErrorNote error={error ?? verifyError} />
      {!draw ? (
        error ? null : <Loading />
      ) : (
        <div className="card">
          <h2>{draw.prize}</h2>
          <dl className="console-facts">
            <dt>{t.commitment}</dt>
            <dd>
              <code>{draw.commitment}</code>
            </dd>
            <dt>{t.seed}</dt>
            <dd>{draw.seed ? <code>{draw.seed}</code> : t.notRevealed}</dd>
            <dt>{t.entriesHash}</dt>
            <dd>{draw.entries_hash ? <code>{draw.entries_hash}</code> : "—"}</dd>
            <dt>{t.result}</dt>
            <dd>{(draw.winners ?? []).map((w) => nameOf(names, w)).join("、") || "—"}</dd>
          </dl>
          {verdict ? (
            <div role="status">
              <p className={verdict.valid ? "notice" : "error"}>
                <strong>{verdict.valid ? t.valid : t.invalid}</strong>
              </p>
              <ul>
                {Object.entries(verdict.checks).map(([check, ok]) => (
                  <li key={check}>
                    {ok ? "✓" : "✗"} {t.checks[check] ?? check}
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          {draw.seed ? (
            <button type="button" className="secondary" disabled={busy} onClick={() => void verify(draw)}>
              {busy ? consoleText.busy : t.verify}
            </button>
          ) : null}
        </div>
      )}
    </Page>
  );
}
