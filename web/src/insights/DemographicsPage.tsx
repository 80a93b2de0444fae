// 我的 → 画像资料: optional gender and birth year, given only with explicit consent and deleted
// on withdrawal. API: GET/PUT/DELETE /me/demographics.
import { useEffect, useState, type FormEvent, type ReactNode } from "react";

import { http } from "../api/http";
import { insights } from "../strings";
import { ErrorNote, Loading, Page, useLoad } from "../ui/kit";
import type { Demographics } from "./api";
import "./insights.css";

const t = insights.profile;

export default function DemographicsPage(): ReactNode {
  const [data, error, reload] = useLoad(() => http.get<Demographics>("/me/demographics"), []);
  const [gender, setGender] = useState("");
  const [year, setYear] = useState("");
  const [consent, setConsent] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  useEffect(() => {
    if (!data) return;
    setGender(data.gender ?? "");
    setYear(data.birth_year ? String(data.birth_year) : "");
    setConsent(data.given);
  }, [data]);
  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    setStatus(null);
    try {
      await http.put<Demographics>("/me/demographics", {
        gender: gender || null,
        birth_year: year ? Number(year) : null,
        consent,
      });
      setStatus(t.saved);
      reload();
    } catch (err) {
      setProblem(err);
    }
  };
  const withdraw = async (): Promise<void> => {
    setProblem(null);
    try {
      await http.delete("/me/demographics");
      setStatus(t.withdrawn);
      reload();
    } catch (err) {
      setProblem(err);
    }
  };
  return (
    <Page title={t.title}>
      <p>{t.intro}</p>
      <ErrorNote error={error} />
      {!data ? (
        error ? null : <Loading />
      ) : (
        <form className="profile-form card" onSubmit={(e) => void save(e)}>
          <p className="muted">{data.given ? t.given : t.notGiven}</p>
          <label>
            {t.gender}
            <select value={gender} onChange={(e) => setGender(e.target.value)}>
              <option value="">{t.genderNone}</option>
              {Object.entries(insights.portrait.genders).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t.birthYear}
            <input inputMode="numeric" pattern="[0-9]{4}" value={year} onChange={(e) => setYear(e.target.value)} />
          </label>
          <label className="consent">
            <input type="checkbox" checked={consent} onChange={(e) => setConsent(e.target.checked)} />
            <span>{t.consent}</span>
          </label>
          <button type="submit" className="primary" disabled={!consent || (!gender && !year)}>
            {t.save}
          </button>
          {data.given ? (
            <button type="button" className="danger" onClick={() => void withdraw()}>
              {t.withdraw}
            </button>
          ) : null}
          {status ? <p className="notice" role="status">{status}</p> : null}
          <ErrorNote error={problem} />
        </form>
      )}
    </Page>
  );
}
