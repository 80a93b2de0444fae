// Store settings (店铺设置): logo, description, opening hours per weekday and the communities the
// store serves. The owner changes them; staff see them. API: PATCH /merchants/{id}/settings,
// PUT /merchants/{id}/logo, GET /communities?q= and /communities/{id} for the service area.
import { useEffect, useId, useMemo, useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { common, merchant as t } from "../strings";
import { Page, useLoad } from "../ui/kit";
import { WEEKDAYS, type Community, type Merchant, type OpeningHours, type Page as ApiPage, type Weekday } from "./api";
import { useMerchant } from "./context";
import { Problem } from "./parts";

const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);
const MAX_BYTES = 5 * 1024 * 1024;
const MAX_RANGES = 4;

export function SettingsPage(): ReactNode {
  const { merchant, role } = useMerchant();
  const owner = role === "owner";
  return (
    <Page title={t.settings.title}>
      {!owner ? <p className="banner" role="note">{t.ownerOnly}</p> : null}
      <LogoSection merchant={merchant} disabled={!owner} />
      <ProfileSection merchant={merchant} disabled={!owner} />
      <AreaSection merchant={merchant} disabled={!owner} />
    </Page>
  );
}

function LogoSection({ merchant, disabled }: { merchant: Merchant; disabled: boolean }): ReactNode {
  const { reload } = useMerchant();
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  const [inputKey, setInputKey] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const problem = !file ? null : !IMAGE_TYPES.has(file.type) ? t.errors.unsupported_image_type : file.size > MAX_BYTES ? t.errors.payload_too_large : null;
  const preview = useMemo(() => (file && !problem ? URL.createObjectURL(file) : null), [file, problem]);
  useEffect(() => () => {
    if (preview) URL.revokeObjectURL(preview);
  }, [preview]);

  const upload = async (): Promise<void> => {
    if (!file || problem) return;
    setBusy(true);
    setError(null);
    try {
      await http.upload<Merchant>(`/merchants/${merchant.id}/logo`, file, file.name, "PUT");
      setFile(null);
      setInputKey((k) => k + 1);
      await reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t.settings.logo}</h2>
      <div className="row logo-row">
        {preview ? (
          <img src={preview} alt={`${t.wizard.preview}：${file?.name ?? ""}`} className="logo" />
        ) : merchant.logo_url ? (
          <img src={merchant.logo_url} alt={t.settings.logoAlt} className="logo" />
        ) : (
          <span className="muted">{t.settings.noLogo}</span>
        )}
      </div>
      {!disabled ? (
        <>
          <div className="row">
            <label htmlFor={id} className="sr-only">{t.settings.logo}</label>
            <input
              key={inputKey}
              id={id}
              type="file"
              accept="image/jpeg,image/png,image/webp"
              aria-describedby={`${id}-hint`}
              aria-invalid={Boolean(problem) || undefined}
              onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            />
            <button type="button" className="primary" onClick={() => void upload()} disabled={!file || Boolean(problem) || busy}>
              {busy ? t.wizard.uploading : t.settings.uploadLogo}
            </button>
          </div>
          <span id={`${id}-hint`} className="muted small">{t.settings.logoHint}</span>
          {problem ? <p className="error" role="alert">{problem}</p> : null}
          <Problem error={error} />
        </>
      ) : null}
    </section>
  );
}

type Ranges = Record<Weekday, [string, string][]>;

function toRanges(hours: OpeningHours): Ranges {
  const out = {} as Ranges;
  for (const day of WEEKDAYS) out[day] = (hours[day] ?? []).map(([a, b]) => [a, b] as [string, string]);
  return out;
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(":");
  return Number(h) * 60 + Number(m);
}

/** Days whose ranges are wrong (close before open, overlapping): the API's rule, checked early. */
function badDays(ranges: Ranges): Weekday[] {
  return WEEKDAYS.filter((day) => {
    const spans = ranges[day]
      .map(([a, b]) => [minutes(a), b === "00:00" ? 24 * 60 : minutes(b)] as const)
      .sort((x, y) => x[0] - y[0]);
    return spans.some(([a, b], i) => !(a < b) || Number.isNaN(a) || Number.isNaN(b) || (i > 0 && a < (spans[i - 1]?.[1] ?? 0)));
  });
}

function ProfileSection({ merchant, disabled }: { merchant: Merchant; disabled: boolean }): ReactNode {
  const { reload } = useMerchant();
  const id = useId();
  const [description, setDescription] = useState(merchant.description);
  const [ranges, setRanges] = useState<Ranges>(() => toRanges(merchant.opening_hours));
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const bad = badDays(ranges);

  const setDay = (day: Weekday, next: [string, string][]): void => {
    setSaved(false);
    setRanges((prev) => ({ ...prev, [day]: next }));
  };

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (bad.length) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const opening_hours: OpeningHours = {};
      for (const day of WEEKDAYS) {
        // The API writes midnight as 24:00; a time input cannot, so 00:00 as a close means it.
        if (ranges[day].length) opening_hours[day] = ranges[day].map(([a, b]) => [a, b === "00:00" ? "24:00" : b]);
      }
      await http.patch<Merchant>(`/merchants/${merchant.id}/settings`, { description, opening_hours });
      setSaved(true);
      await reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t.settings.profile}</h2>
      <div className="field">
        <label htmlFor={`${id}-desc`}>{t.settings.description}</label>
        <textarea id={`${id}-desc`} value={description} maxLength={2000} rows={3} disabled={disabled} onChange={(e) => { setSaved(false); setDescription(e.target.value); }} />
      </div>
      <fieldset className="hours" disabled={disabled}>
        <legend>{t.settings.hours}</legend>
        <p className="muted small">{t.settings.hoursHint}</p>
        {WEEKDAYS.map((day) => {
          const name = t.settings.days[day] ?? day;
          const list = ranges[day];
          return (
            <div key={day} className="hours-day">
              <label className="check">
                <input
                  type="checkbox"
                  checked={list.length > 0}
                  onChange={(e) => setDay(day, e.target.checked ? [["09:00", "18:00"]] : [])}
                />
                {`${name} ${t.settings.open}`}
              </label>
              {list.map(([open, close], i) => (
                <span key={i} className="range">
                  <input
                    type="time"
                    aria-label={t.settings.opensAt(name, i + 1)}
                    value={open}
                    onChange={(e) => setDay(day, list.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))}
                  />
                  <span aria-hidden="true">–</span>
                  <input
                    type="time"
                    aria-label={t.settings.closesAt(name, i + 1)}
                    value={close === "24:00" ? "00:00" : close}
                    onChange={(e) => setDay(day, list.map((r, j) => (j === i ? [r[0], e.target.value] : r)))}
                  />
                  <button type="button" className="link" onClick={() => setDay(day, list.filter((_, j) => j !== i))}>
                    {`${t.settings.removeRange}`}
                    <span className="sr-only">{` ${name} ${i + 1}`}</span>
                  </button>
                </span>
              ))}
              {list.length > 0 && list.length < MAX_RANGES ? (
                <button type="button" className="link" onClick={() => setDay(day, [...list, ["19:00", "21:00"]])}>
                  {t.settings.addRange}
                  <span className="sr-only">{` ${name}`}</span>
                </button>
              ) : null}
              {bad.includes(day) ? <span className="error small" role="alert">{t.settings.rangeInvalid(name)}</span> : null}
            </div>
          );
        })}
      </fieldset>
      <Problem error={error} />
      {saved ? <p className="notice" role="status">{t.settings.saved}</p> : null}
      {!disabled ? (
        <div className="row">
          <button type="submit" className="primary" disabled={busy || bad.length > 0}>{busy ? t.settings.saving : t.settings.save}</button>
        </div>
      ) : null}
    </form>
  );
}

function AreaSection({ merchant, disabled }: { merchant: Merchant; disabled: boolean }): ReactNode {
  const { reload } = useMerchant();
  const id = useId();
  const approved = merchant.status === "approved";
  const [chosen, setChosen] = useState<string[]>(merchant.community_ids);
  const [names, setNames] = useState<Record<string, Community>>({});
  const [q, setQ] = useState("");
  const [results, setResults] = useState<Community[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // Names of the communities already served (the profile carries only their ids).
  const [known] = useLoad(
    () => Promise.all(merchant.community_ids.map((cid) => http.get<Community>(`/communities/${cid}`).catch(() => null))),
    [merchant.community_ids.join(",")],
  );
  useEffect(() => {
    if (!known) return;
    setNames((prev) => {
      const next = { ...prev };
      for (const c of known) if (c) next[c.id] = c;
      return next;
    });
  }, [known]);

  const search = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (!q.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const page = await http.get<ApiPage<Community>>(`/communities${query({ q: q.trim(), limit: 20 })}`);
      setResults(page.items);
      setNames((prev) => {
        const next = { ...prev };
        for (const c of page.items) next[c.id] = c;
        return next;
      });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const save = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await http.patch<Merchant>(`/merchants/${merchant.id}/settings`, { community_ids: chosen });
      setSaved(true);
      await reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const changed = chosen.slice().sort().join(",") !== merchant.community_ids.slice().sort().join(",");
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{t.settings.area}</h2>
      <p className="muted small">{approved ? t.settings.areaHint : t.settings.areaNotApproved}</p>
      {chosen.length === 0 ? (
        <p className="muted">{t.settings.areaEmpty}</p>
      ) : (
        <ul className="chips area-list">
          {chosen.map((cid) => (
            <li key={cid} className="chip">
              {names[cid]?.name ?? cid.slice(0, 8)}
              {!disabled && approved ? (
                <button type="button" className="link" onClick={() => { setSaved(false); setChosen((prev) => prev.filter((c) => c !== cid)); }}>
                  {t.settings.remove}
                  <span className="sr-only">{` ${names[cid]?.name ?? ""}`}</span>
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {!disabled && approved ? (
        <>
          <form className="row" onSubmit={(e) => void search(e)} role="search">
            <label htmlFor={`${id}-q`} className="sr-only">{t.settings.search}</label>
            <input id={`${id}-q`} value={q} maxLength={50} placeholder={t.settings.searchPlaceholder} onChange={(e) => setQ(e.target.value)} />
            <button type="submit" disabled={busy || !q.trim()}>{t.settings.search}</button>
          </form>
          {results ? (
            results.length === 0 ? (
              <p className="muted">{common.empty}</p>
            ) : (
              <ul className="list">
                {results.map((c) => (
                  <li key={c.id} className="row">
                    <span>{c.name}</span>
                    <span className="muted small">{c.address}</span>
                    <button
                      type="button"
                      onClick={() => { setSaved(false); setChosen((prev) => (prev.includes(c.id) ? prev : [...prev, c.id])); }}
                      disabled={chosen.includes(c.id)}
                    >
                      {t.settings.add}
                      <span className="sr-only">{` ${c.name}`}</span>
                    </button>
                  </li>
                ))}
              </ul>
            )
          ) : null}
          <Problem error={error} />
          {saved ? <p className="notice" role="status">{t.settings.saved}</p> : null}
          <div className="row">
            <button type="button" className="primary" onClick={() => void save()} disabled={busy || !changed}>
              {busy ? t.settings.saving : t.settings.saveArea}
            </button>
          </div>
        </>
      ) : null}
    </section>
  );
}
