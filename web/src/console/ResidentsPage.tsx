// Property staff verify or reject residents' requests to join their community (住户认证).
import { useEffect, useState, type ReactNode } from "react";

import { http, query } from "../api/http";
import { consoleText } from "../strings";
import { Empty, Loading, Page } from "../ui/kit";
import { ErrorNote, ReasonDialog, useStaffCommunity } from "./shared";

interface Member {
  user_id: string;
  display_name: string;
  role: string;
  status: string;
  unit: string | null;
  since: string;
}

interface MemberPage {
  items: Member[];
  next_cursor: string | null;
}

const t = consoleText.residents;

export function ResidentsPage(): ReactNode {
  const [community, picker] = useStaffCommunity();
  const [items, setItems] = useState<Member[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [rejecting, setRejecting] = useState<Member | null>(null);
  const [notice, setNotice] = useState("");

  const load = async (after: string | null): Promise<void> => {
    if (!community) return;
    setError(null);
    try {
      const page = await http.get<MemberPage>(
        `/communities/${community.id}/members${query({ status: "pending", limit: 50, cursor: after })}`,
      );
      setItems((old) => (after && old ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    }
  };

  useEffect(() => {
    setItems(null);
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [community?.id]);

  const decided = (member: Member, text: string): void => {
    setItems((old) => (old ?? []).filter((m) => m.user_id !== member.user_id));
    setNotice(text);
  };

  const verify = async (member: Member): Promise<void> => {
    if (!community) return;
    setBusy(member.user_id);
    setError(null);
    try {
      await http.post(`/communities/${community.id}/members/${member.user_id}/verify`);
      decided(member, t.verified(member.display_name));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  if (!community) {
    return (
      <Page title={t.title}>
        <Empty>{consoleText.noStaffCommunity}</Empty>
      </Page>
    );
  }
  return (
    <Page title={t.title} actions={picker}>
      <h2>{t.pending}</h2>
      <p className="notice" role="status">
        {notice}
      </p>
      <ErrorNote error={error} />
      {items === null ? (
        error ? null : <Loading />
      ) : items.length === 0 ? (
        <Empty>{t.none}</Empty>
      ) : (
        <table aria-label={t.pending}>
          <thead>
            <tr>
              <th scope="col">{t.name}</th>
              <th scope="col">{t.unit}</th>
              <th scope="col">{t.since}</th>
              <th scope="col">{t.actions}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.user_id} data-user={m.user_id}>
                <td>{m.display_name}</td>
                <td>{m.unit ?? "—"}</td>
                <td>{consoleText.time(m.since)}</td>
                <td className="row">
                  <button type="button" className="primary" disabled={busy !== null} onClick={() => void verify(m)}>
                    {busy === m.user_id ? consoleText.busy : t.verify(m.display_name)}
                  </button>
                  <button type="button" className="danger" disabled={busy !== null} onClick={() => setRejecting(m)}>
                    {t.reject(m.display_name)}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor ? (
        <button type="button" className="link" onClick={() => void load(cursor)}>
          {t.loadMore}
        </button>
      ) : null}
      {rejecting ? (
        <ReasonDialog
          title={t.rejectTitle(rejecting.display_name)}
          reasonLabel={t.rejectReason}
          confirmLabel={t.confirmReject}
          onClose={() => setRejecting(null)}
          onConfirm={async (reason) => {
            await http.post(`/communities/${community.id}/members/${rejecting.user_id}/reject`, { reason });
            decided(rejecting, t.rejected(rejecting.display_name));
          }}
        />
      ) : null}
    </Page>
  );
}
