// Platform admins: property companies (create, add and remove their staff) and communities
// (create with address, latitude, longitude and company; search the list).
import { useState, type FormEvent, type ReactNode } from "react";

import { http, query } from "../api/http";
import { consoleText } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { ErrorNote, ReasonDialog } from "./shared";

const t = consoleText.communities;

interface Company {
  id: string;
  name: string;
  created_at: string;
  community_count: number;
}

interface StaffMember {
  user_id: string;
  display_name: string;
  created_at: string;
}

interface Community {
  id: string;
  name: string;
  address: string;
  latitude: string;
  longitude: string;
  property_company_id: string | null;
  created_at: string;
}

export function CommunitiesPage(): ReactNode {
  const [companies, companiesError, reloadCompanies] = useLoad(() => http.get<Company[]>("/property-companies"), []);
  const [notice, setNotice] = useState("");
  return (
    <Page title={t.title}>
      <p className="notice" role="status">
        {notice}
      </p>
      <div className="console-split">
        <section aria-labelledby="companies-title">
          <h2 id="companies-title">{t.companies}</h2>
          <NewCompany
            onCreated={(name) => {
              setNotice(t.created(name));
              reloadCompanies();
            }}
          />
          <ErrorNote error={companiesError} />
          {companies === undefined ? (
            companiesError ? null : <Loading />
          ) : companies.length === 0 ? (
            <Empty>{t.noCompanies}</Empty>
          ) : (
            <ul className="list">
              {companies.map((c) => (
                <CompanyRow key={c.id} company={c} />
              ))}
            </ul>
          )}
        </section>
        <section aria-labelledby="communities-title">
          <h2 id="communities-title">{t.communities}</h2>
          <Communities
            companies={companies ?? []}
            onCreated={(name) => {
              setNotice(t.created(name));
              reloadCompanies();
            }}
          />
        </section>
      </div>
    </Page>
  );
}

function NewCompany({ onCreated }: { onCreated: (name: string) => void }): ReactNode {
  const [name, setName] = useState("");
  const [invalid, setInvalid] = useState(false);
  const [create, busy, error] = useAction(async () => {
    const made = await http.post<Company>("/property-companies", { name: name.trim() });
    setName("");
    onCreated(made.name);
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (!name.trim()) return setInvalid(true);
    setInvalid(false);
    void create();
  };
  return (
    <form className="card form" onSubmit={submit} noValidate aria-labelledby="new-company-title">
      <h3 id="new-company-title">{t.newCompany}</h3>
      <label>
        {t.companyName}
        <input value={name} maxLength={100} aria-invalid={invalid} onChange={(e) => setName(e.target.value)} />
      </label>
      {invalid ? <p className="error">{t.required}</p> : null}
      <ErrorNote error={error} />
      <div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? consoleText.busy : t.create}
        </button>
      </div>
    </form>
  );
}

function CompanyRow({ company }: { company: Company }): ReactNode {
  const [open, setOpen] = useState(false);
  return (
    <li className="card console-company">
      <div className="row">
        <strong className="console-grow">{company.name}</strong>
        <span className="muted">{t.communityCount(company.community_count)}</span>
        <button type="button" className="secondary" aria-expanded={open} onClick={() => setOpen(!open)}>
          {t.manageStaff(company.name)}
        </button>
      </div>
      {open ? <CompanyStaff company={company} /> : null}
    </li>
  );
}

function CompanyStaff({ company }: { company: Company }): ReactNode {
  const [staff, error, reload] = useLoad(() => http.get<StaffMember[]>(`/property-companies/${company.id}/staff`), [company.id]);
  const [phone, setPhone] = useState("");
  const [invalid, setInvalid] = useState(false);
  const [removing, setRemoving] = useState<StaffMember | null>(null);
  const [add, busy, addError] = useAction(async () => {
    await http.post(`/property-companies/${company.id}/staff`, { phone: phone.trim() });
    setPhone("");
    reload();
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (phone.trim().length < 3) return setInvalid(true);
    setInvalid(false);
    void add();
  };
  return (
    <div className="console-staff">
      <h4>{t.staff}</h4>
      <ErrorNote error={error} />
      {staff === undefined ? (
        error ? null : <Loading />
      ) : staff.length === 0 ? (
        <p className="muted">{t.noStaff}</p>
      ) : (
        <ul className="list">
          {staff.map((s) => (
            <li key={s.user_id} className="row">
              <span className="console-grow">{s.display_name}</span>
              <button type="button" className="danger" onClick={() => setRemoving(s)}>
                {t.remove(s.display_name)}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="row" onSubmit={submit} noValidate>
        <label className="console-inline">
          {t.staffPhone}
          <input type="tel" value={phone} maxLength={30} aria-invalid={invalid} onChange={(e) => setPhone(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={busy} aria-label={`${t.addStaff}：${company.name}`}>
          {busy ? consoleText.busy : t.add}
        </button>
      </form>
      {invalid ? <p className="error">{t.required}</p> : null}
      <ErrorNote error={addError} />
      {removing ? (
        <ReasonDialog
          title={t.confirmRemove(removing.display_name)}
          confirmLabel={t.remove(removing.display_name)}
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await http.delete(`/property-companies/${company.id}/staff/${removing.user_id}`);
            reload();
          }}
        />
      ) : null}
    </div>
  );
}

function Communities({ companies, onCreated }: { companies: Company[]; onCreated: (name: string) => void }): ReactNode {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const [list, error, reload] = useLoad(() => http.get<{ items: Community[] }>(`/communities${query({ q: search, limit: 50 })}`), [search]);
  const companyName = new Map(companies.map((c) => [c.id, c.name]));
  return (
    <>
      <NewCommunity
        companies={companies}
        onCreated={(name) => {
          onCreated(name);
          reload();
        }}
      />
      <form
        className="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(q.trim());
        }}
      >
        <label className="console-inline console-grow">
          {t.search}
          <input type="search" value={q} maxLength={50} onChange={(e) => setQ(e.target.value)} />
        </label>
        <button type="submit" className="secondary">
          {t.search}
        </button>
      </form>
      <ErrorNote error={error} />
      {list === undefined ? (
        error ? null : <Loading />
      ) : list.items.length === 0 ? (
        <Empty>{t.noCommunities}</Empty>
      ) : (
        <table aria-label={t.communities}>
          <thead>
            <tr>
              <th scope="col">{t.name}</th>
              <th scope="col">{t.address}</th>
              <th scope="col">{t.company}</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td>
                <td>{c.address}</td>
                <td>{c.property_company_id ? (companyName.get(c.property_company_id) ?? "—") : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function NewCommunity({ companies, onCreated }: { companies: Company[]; onCreated: (name: string) => void }): ReactNode {
  const [form, setForm] = useState({ name: "", address: "", latitude: "", longitude: "", company: "" });
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [create, busy, error] = useAction(async () => {
    const made = await http.post<Community>("/communities", {
      name: form.name.trim(),
      address: form.address.trim(),
      latitude: form.latitude.trim(),
      longitude: form.longitude.trim(),
      property_company_id: form.company || null,
    });
    setForm({ name: "", address: "", latitude: "", longitude: "", company: "" });
    onCreated(made.name);
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!form.name.trim()) found.name = t.required;
    if (!form.address.trim()) found.address = t.required;
    const lat = Number(form.latitude);
    const lng = Number(form.longitude);
    if (!form.latitude.trim() || !Number.isFinite(lat) || lat < -90 || lat > 90) found.latitude = t.latInvalid;
    if (!form.longitude.trim() || !Number.isFinite(lng) || lng < -180 || lng > 180) found.longitude = t.lngInvalid;
    setProblems(found);
    if (Object.keys(found).length === 0) void create();
  };
  const field = (key: "name" | "address" | "latitude" | "longitude", label: string, inputMode?: "decimal"): ReactNode => (
    <label>
      {label}
      <input
        value={form[key]}
        inputMode={inputMode}
        maxLength={key === "address" ? 300 : 100}
        aria-invalid={Boolean(problems[key])}
        aria-describedby={problems[key] ? `community-${key}-error` : undefined}
        onChange={(e) => setForm({ ...form, [key]: e.target.value })}
      />
      {problems[key] ? (
        <span id={`community-${key}-error`} className="error">
          {problems[key]}
        </span>
      ) : null}
    </label>
  );
  return (
    <form className="card form" onSubmit={submit} noValidate aria-labelledby="new-community-title">
      <h3 id="new-community-title">{t.newCommunity}</h3>
      {field("name", t.name)}
      {field("address", t.address)}
      <div className="console-fields">
        {field("latitude", t.latitude, "decimal")}
        {field("longitude", t.longitude, "decimal")}
      </div>
      <label>
        {t.company}
        <select value={form.company} onChange={(e) => setForm({ ...form, company: e.target.value })}>
          <option value="">{t.noCompany}</option>
          {companies.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
      <ErrorNote error={error} />
      <div>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? consoleText.busy : t.create}
        </button>
      </div>
    </form>
  );
}
