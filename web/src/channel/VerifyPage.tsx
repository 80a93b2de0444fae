// /lottery/:drawId — verify a draw (docs/lottery.md): the published fields, the checks recomputed
// in this browser (Web Crypto: SHA-256 and HMAC-SHA256), and the server's own verification
// (POST /lottery/verify) of the same data.
import { useEffect, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { http } from "../api/http";
import { channel } from "../strings";
import { ErrorNote, Loading, Page } from "../ui/kit";

interface PublishedDraw {
  id: string;
  community_id: string;
  prize: string;
  winner_count: number;
  commitment: string;
  status: string;
  entries_hash: string | null;
  entry_count: number | null;
  winners: string[] | null;
  seed: string | null;
  entries: string[] | null;
}

interface Checks {
  seed_matches_commitment: boolean;
  entries_hash_matches: boolean;
  winners_match: boolean;
}

interface Verdict {
  valid: boolean;
  checks: Checks;
  recomputed_winners: string[];
}

const encoder = new TextEncoder();

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Unicode code point order (= UTF-8 byte order), which is not JavaScript's UTF-16 sort order. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** The same computation as docs/lottery.md's verify_draw, in the browser. */
async function recompute(draw: PublishedDraw): Promise<Verdict> {
  const seed = hexBytes(draw.seed ?? "");
  const canonical = [...new Set(draw.entries ?? [])].sort(byCodePoint);
  const listed = encoder.encode(canonical.join("\n"));
  const key = await crypto.subtle.importKey("raw", seed, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const scored = await Promise.all(
    canonical.map(async (id) => ({ id, score: new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(id))) })),
  );
  scored.sort((a, b) => compareBytes(a.score, b.score) || byCodePoint(a.id, b.id));
  const recomputed = scored.slice(0, draw.winner_count).map((s) => s.id);
  const winners = draw.winners ?? [];
  const checks = {
    seed_matches_commitment: hex(await crypto.subtle.digest("SHA-256", seed)) === draw.commitment.toLowerCase(),
    entries_hash_matches: hex(await crypto.subtle.digest("SHA-256", listed)) === (draw.entries_hash ?? "").toLowerCase(),
    winners_match: recomputed.length === winners.length && recomputed.every((id, i) => id === winners[i]),
  };
  return { valid: Object.values(checks).every(Boolean), checks, recomputed_winners: recomputed };
}

export function VerifyPage(): ReactNode {
  const { drawId } = useParams();
  const [draw, setDraw] = useState<PublishedDraw | null>(null);
  const [local, setLocal] = useState<Verdict | null>(null);
  const [server, setServer] = useState<Verdict | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    (async () => {
      const published = await http.get<PublishedDraw>(`/lottery/draws/${drawId ?? ""}`);
      if (!live) return;
      setDraw(published);
      if (!published.seed || !published.entries || !published.entries_hash || !published.winners) return;
      const [mine, theirs] = await Promise.all([
        recompute(published),
        http.post<Verdict>("/lottery/verify", {
          commitment: published.commitment,
          seed: published.seed,
          entries: published.entries,
          entries_hash: published.entries_hash,
          winners: published.winners,
          winner_count: published.winner_count,
        }),
      ]);
      if (!live) return;
      setLocal(mine);
      setServer(theirs);
    })().catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [drawId]);

  const t = channel.verify;
  return (
    <Page title={t.title}>
      <p className="muted">{t.intro}</p>
      <ErrorNote error={error} />
      {!draw && !error ? <Loading /> : null}
      {draw ? (
        <>
          <h2>
            {channel.lottery.prize}：{draw.prize}
          </h2>
          <dl className="proof card">
            <dt>{t.commitment}</dt>
            <dd>
              <code>{draw.commitment}</code>
            </dd>
            <dt>{t.seed}</dt>
            <dd>
              <code>{draw.seed ?? "—"}</code>
            </dd>
            <dt>{t.entriesHash}</dt>
            <dd>
              <code>{draw.entries_hash ?? "—"}</code>
            </dd>
            <dt>{t.entryCount}</dt>
            <dd>{draw.entry_count ?? "—"}</dd>
            <dt>{t.winnerCount}</dt>
            <dd>{draw.winner_count}</dd>
            <dt>{t.winners}</dt>
            <dd>
              <ol className="ids">
                {(draw.winners ?? []).map((id) => (
                  <li key={id}>
                    <code>{id}</code>
                  </li>
                ))}
              </ol>
            </dd>
          </dl>
          {!draw.seed ? <p className="card">{t.notRevealed}</p> : null}
          {draw.seed && !local && !error ? <p className="muted">{t.computing}</p> : null}
          {local && server ? (
            <>
              <p className={`verdict card ${local.valid && server.valid ? "notice" : "error"}`} role="status">
                {local.valid && server.valid ? t.valid : t.invalid}
              </p>
              <table>
                <caption className="visually-hidden">{t.title}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t.check}</th>
                    <th scope="col">{t.local}</th>
                    <th scope="col">{t.server}</th>
                  </tr>
                </thead>
                <tbody>
                  {(Object.keys(t.checks) as Array<keyof Checks>).map((check) => (
                    <tr key={check}>
                      <th scope="row">{t.checks[check]}</th>
                      <td>{local.checks[check] ? t.pass : t.fail}</td>
                      <td data-check={check}>{server.checks[check] ? t.pass : t.fail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <h3>{t.recomputed}</h3>
              <ol className="ids">
                {local.recomputed_winners.map((id) => (
                  <li key={id}>
                    <code>{id}</code>
                  </li>
                ))}
              </ol>
            </>
          ) : null}
          <p>
            <Link to={`/channel/${draw.community_id}?view=lottery`}>{t.back}</Link>
          </p>
        </>
      ) : null}
    </Page>
  );
}
