// Channel moderation: the queue of reported messages (a community's property staff see theirs,
// customer service and admins every community's), and for property staff the channel live with
// deleting a message and muting or unmuting its author (socket events chat:delete, chat:mute,
// chat:unmute after channel:join).
import { useEffect, useState, type ReactNode } from "react";

import { type ChannelEvent, type ChatMessage } from "../api/channel";
import { http, query } from "../api/http";
import { realtime } from "../api/realtime";
import { consoleText } from "../strings";
import { Empty, Loading, Page } from "../ui/kit";
import { ConnectionBadge, ErrorNote, nameOf, ReasonDialog, useChannel, useMemberNames, useRoles, useStaffCommunity } from "./shared";

const t = consoleText.moderation;

interface Report {
  id: string;
  community_id: string;
  seq: number;
  reporter_id: string;
  reason: string;
  status: string;
  created_at: string;
  author_id: string | null;
  text: string | null;
  deleted: boolean;
}

type Pending =
  | { kind: "delete"; communityId: string; seq: number; name: string; report?: Report }
  | { kind: "mute"; communityId: string; userId: string; name: string };

export function ModerationPage(): ReactNode {
  const { admin, service } = useRoles();
  const [community, picker] = useStaffCommunity();
  // Customer service and admins work every community's queue; property staff their community's.
  const everywhere = admin || service;
  return (
    <Page title={t.title} actions={community ? picker : null}>
      <Reports communityId={everywhere ? undefined : community?.id} />
      {community ? <LiveChannel communityId={community.id} /> : null}
      {!community && !everywhere ? <Empty>{consoleText.noStaffCommunity}</Empty> : null}
    </Page>
  );
}

function Reports({ communityId }: { communityId: string | undefined }): ReactNode {
  const { admin, service } = useRoles();
  const [items, setItems] = useState<Report[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const allowed = admin || service || communityId !== undefined;
  const names = useMemberNames(communityId);

  const load = async (): Promise<void> => {
    setError(null);
    try {
      const page = await http.get<{ items: Report[] }>(`/moderation/reports${query({ community_id: communityId, limit: 100 })}`);
      setItems(page.items);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (allowed) void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [communityId, allowed]);

  const close = async (report: Report, status: "resolved" | "dismissed"): Promise<void> => {
    setBusy(report.id);
    setError(null);
    try {
      await http.post(`/moderation/reports/${report.id}/close`, { status });
      setItems((old) => (old ?? []).filter((r) => r.id !== report.id));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  if (!allowed) return null;
  return (
    <section aria-labelledby="reports-title">
      <h2 id="reports-title">
        {t.reports}
        {communityId ? null : <span className="muted"> · {t.serviceScope}</span>}
      </h2>
      <ErrorNote error={error} />
      {items === null ? (
        error ? null : <Loading />
      ) : items.length === 0 ? (
        <Empty>{t.noReports}</Empty>
      ) : (
        <ul className="list">
          {items.map((r) => (
            <li key={r.id} className="card console-report">
              <div className="console-grow">
                <div>
                  {r.author_id ? <strong>{nameOf(names, r.author_id)}：</strong> : <span className="muted">{t.message}：</span>}
                  {r.text ?? "—"} {r.deleted ? <span className="badge rejected">{t.deleted}</span> : null}
                </div>
                <div className="muted">
                  {t.reported}：{r.reason} · {consoleText.time(r.created_at)}
                </div>
              </div>
              {!r.deleted && (admin || communityId) ? (
                <button
                  type="button"
                  className="danger"
                  disabled={busy !== null}
                  onClick={() => setPending({ kind: "delete", communityId: r.community_id, seq: r.seq, name: r.text ?? "", report: r })}
                >
                  {t.deleteReported}
                </button>
              ) : null}
              <button type="button" className="primary" disabled={busy !== null} onClick={() => void close(r, "resolved")}>
                {t.resolve}
              </button>
              <button type="button" className="secondary" disabled={busy !== null} onClick={() => void close(r, "dismissed")}>
                {t.dismiss}
              </button>
            </li>
          ))}
        </ul>
      )}
      {pending?.kind === "delete" ? (
        <ReasonDialog
          title={t.confirmDelete}
          reasonLabel={t.deleteReason}
          confirmLabel={t.deleteReported}
          onClose={() => setPending(null)}
          onConfirm={async (reason) => {
            // Deleting goes to the community's channel actor, which needs the channel joined: the
            // live channel below has joined it for property staff; an admin joins for the moment.
            const rt = realtime("/");
            const target = { community_id: pending.communityId };
            if (!communityId) await rt.request("channel:join", target);
            try {
              await rt.request("chat:delete", { ...target, seq: pending.seq, reason });
            } finally {
              if (!communityId) void rt.request("channel:leave", target).catch(() => undefined);
            }
            if (pending.report) await close(pending.report, "resolved");
          }}
        />
      ) : null}
    </section>
  );
}

function LiveChannel({ communityId }: { communityId: string }): ReactNode {
  const [muted, setMuted] = useState<Map<string, { name: string; until: string }>>(new Map());
  const [pending, setPending] = useState<Pending | null>(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [feed, state] = useChannel(communityId, (event: ChannelEvent) => {
    if (event.type === "member.muted") {
      const id = event.data.user_id as string;
      setMuted((old) => new Map(old).set(id, { name: nameIn(id), until: event.data.until as string }));
    } else if (event.type === "member.unmuted") {
      setMuted((old) => {
        const next = new Map(old);
        next.delete(event.data.user_id as string);
        return next;
      });
    }
  });
  const messages = state.messages.filter((m) => !m.pending).slice(-100);
  const nameIn = (id: string): string => state.online.get(id) ?? messages.find((m) => m.user_id === id)?.name ?? id.slice(0, 8);

  const unmute = async (userId: string, name: string): Promise<void> => {
    setError(null);
    try {
      await realtime("/").request("chat:unmute", { community_id: communityId, user_id: userId });
      setNotice(t.unmuted(name));
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section aria-labelledby="channel-title">
      <h2 id="channel-title" className="row">
        {t.channel} <ConnectionBadge /> <span className="muted">{t.online(state.online.size)}</span>
      </h2>
      <p className="notice" role="status">
        {notice}
      </p>
      <ErrorNote error={error} />
      {muted.size > 0 ? (
        <div className="card">
          <h3>{t.mutedList}</h3>
          <ul className="list">
            {[...muted].map(([id, m]) => (
              <li key={id} className="row">
                <span className="console-grow">{t.muted(m.name, consoleText.time(m.until))}</span>
                <button type="button" className="secondary" onClick={() => void unmute(id, m.name)}>
                  {t.unmute(m.name)}
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {!state.joined ? (
        <Loading />
      ) : messages.length === 0 ? (
        <Empty>{t.noMessages}</Empty>
      ) : (
        <ol className="list console-chat" aria-label={t.channel}>
          {messages.map((m: ChatMessage) => (
            <li key={m.seq} className="card" data-seq={m.seq}>
              <div className="console-grow">
                <strong>{m.name}</strong> <span className="muted">{consoleText.time(m.at)}</span>
                <div>{m.text}</div>
              </div>
              <button
                type="button"
                className="danger"
                onClick={() => setPending({ kind: "delete", communityId, seq: m.seq, name: m.name })}
              >
                {t.deleteMessage(m.name)}
              </button>
              {muted.has(m.user_id) ? (
                <button type="button" className="secondary" onClick={() => void unmute(m.user_id, m.name)}>
                  {t.unmute(m.name)}
                </button>
              ) : (
                <button type="button" className="secondary" onClick={() => setPending({ kind: "mute", communityId, userId: m.user_id, name: m.name })}>
                  {t.mute(m.name)}
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
      {pending?.kind === "delete" && feed ? (
        <ReasonDialog
          title={t.confirmDelete}
          reasonLabel={t.deleteReason}
          confirmLabel={t.deleteMessage(pending.name)}
          onClose={() => setPending(null)}
          onConfirm={(reason) => realtime("/").request("chat:delete", { community_id: communityId, seq: pending.seq, reason })}
        />
      ) : null}
      {pending?.kind === "mute" ? (
        <MuteDialog
          communityId={communityId}
          userId={pending.userId}
          name={pending.name}
          onClose={() => setPending(null)}
          onMuted={(until) => {
            setMuted((old) => new Map(old).set(pending.userId, { name: pending.name, until }));
            setNotice(t.muted(pending.name, consoleText.time(until)));
          }}
        />
      ) : null}
    </section>
  );
}

function MuteDialog({
  communityId,
  userId,
  name,
  onClose,
  onMuted,
}: {
  communityId: string;
  userId: string;
  name: string;
  onClose: () => void;
  onMuted: (until: string) => void;
}): ReactNode {
  const [minutes, setMinutes] = useState(60);
  return (
    <ReasonDialog
      title={t.muteTitle(name)}
      reasonLabel={consoleText.reason}
      confirmLabel={t.confirmMute}
      extra={
        <label>
          {t.minutes}
          <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
            {t.durations.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      }
      onClose={onClose}
      onConfirm={async (reason) => {
        const ack = await realtime("/").request<{ until: string }>("chat:mute", { community_id: communityId, user_id: userId, minutes, reason });
        onMuted(ack.until);
      }}
    />
  );
}
