// Publish a listing: the form, then its photos one by one (POST /listings/{id}/images).
import { useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";

import { http } from "../api/http";
import { resident } from "../strings";
import { Page, useAction } from "../ui/kit";
import { fenOf } from "./money";
import { PhotoPicker } from "./PhotoPicker";
import { type Listing } from "./types";
import { ResidentError } from "./ResidentError";

const KINDS = ["sale", "rent"] as const;
const CATEGORIES = Object.keys(resident.listing.categories);
const CONDITIONS = Object.keys(resident.listing.conditions);

export function PublishPage(): ReactNode {
  const navigate = useNavigate();
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [brand, setBrand] = useState("");
  const [kind, setKind] = useState<(typeof KINDS)[number]>("sale");
  const [category, setCategory] = useState("toy");
  const [condition, setCondition] = useState("like_new");
  const [price, setPrice] = useState("");
  const [rent, setRent] = useState("");
  const [deposit, setDeposit] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setProgress] = useState("");
  const [tried, setTried] = useState(false);
  const p = resident.publish;

  const titleOk = title.trim().length >= 1 && title.trim().length <= 60;
  const priceFen = fenOf(price);
  const rentFen = fenOf(rent);
  const depositFen = fenOf(deposit);
  const moneyOk = kind === "rent" ? rentFen !== null && rentFen > 0 && depositFen !== null : priceFen !== null && priceFen > 0;

  const [publish, busy, error] = useAction(async () => {
    const listing = await http.post<Listing>("/listings", {
      title: title.trim(),
      description: description.trim(),
      brand: brand.trim() || null,
      kind,
      category,
      condition,
      ...(kind === "rent" ? { rent_per_day_fen: rentFen, deposit_fen: depositFen } : { price_fen: priceFen }),
    });
    let failed = false;
    for (const [i, file] of files.entries()) {
      setProgress(p.uploading(i + 1, files.length));
      try {
        await http.upload(`/listings/${listing.id}/images`, file, file.name);
      } catch {
        failed = true;
      }
    }
    setProgress(failed ? p.uploadFailed : "");
    await navigate(`/listings/${listing.id}`);
  });
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setTried(true);
    if (titleOk && moneyOk) void publish();
  };
  const invalid = (ok: boolean): boolean => tried && !ok;
  return (
    <Page title={p.title} actions={<Link to="/me/listings">{p.mine}</Link>}>
      <form className="form" noValidate onSubmit={submit}>
        <label htmlFor="pub-title">
          {p.name}
          <input id="pub-title" maxLength={60} value={title} aria-invalid={invalid(titleOk)} onChange={(e) => setTitle(e.target.value)} />
          {invalid(titleOk) ? <span className="error">{p.nameError}</span> : null}
        </label>
        <fieldset className="choices">
          <legend>{p.kind}</legend>
          {KINDS.map((k) => (
            <label key={k} className="choice">
              <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
              {resident.listing.kinds[k]}
            </label>
          ))}
        </fieldset>
        <div className="two">
          <label htmlFor="pub-category">
            {p.category}
            <select id="pub-category" value={category} onChange={(e) => setCategory(e.target.value)}>
              {CATEGORIES.map((c) => (
                <option key={c} value={c}>
                  {resident.listing.categories[c]}
                </option>
              ))}
            </select>
          </label>
          <label htmlFor="pub-condition">
            {p.condition}
            <select id="pub-condition" value={condition} onChange={(e) => setCondition(e.target.value)}>
              {CONDITIONS.map((c) => (
                <option key={c} value={c}>
                  {resident.listing.conditions[c]}
                </option>
              ))}
            </select>
          </label>
        </div>
        {kind === "rent" ? (
          <div className="two">
            <MoneyField id="pub-rent" label={p.rent} value={rent} onChange={setRent} invalid={invalid(rentFen !== null && rentFen > 0)} />
            <MoneyField id="pub-deposit" label={p.deposit} value={deposit} onChange={setDeposit} invalid={invalid(depositFen !== null)} />
          </div>
        ) : (
          <MoneyField id="pub-price" label={p.price} value={price} onChange={setPrice} invalid={invalid(priceFen !== null && priceFen > 0)} />
        )}
        <label htmlFor="pub-brand">
          {p.brand}
          <input id="pub-brand" maxLength={50} value={brand} onChange={(e) => setBrand(e.target.value)} />
        </label>
        <label htmlFor="pub-description">
          {p.description}
          <textarea id="pub-description" rows={4} maxLength={2000} placeholder={p.descriptionPlaceholder} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <PhotoPicker files={files} onChange={setFiles} />
        {progress ? (
          <p className="muted" aria-live="polite">
            {progress}
          </p>
        ) : null}
        <ResidentError error={error} />
        <button type="submit" className="primary wide" disabled={busy}>
          {p.submit}
        </button>
      </form>
    </Page>
  );
}

function MoneyField(props: { id: string; label: string; value: string; invalid: boolean; onChange: (v: string) => void }): ReactNode {
  const errorId = `${props.id}-error`;
  return (
    <label htmlFor={props.id}>
      {props.label}
      <input
        id={props.id}
        inputMode="decimal"
        value={props.value}
        aria-invalid={props.invalid}
        aria-describedby={props.invalid ? errorId : undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.invalid ? (
        <span id={errorId} className="error">
          {resident.publish.moneyError}
        </span>
      ) : null}
    </label>
  );
}
