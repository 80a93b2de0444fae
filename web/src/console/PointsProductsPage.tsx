// 积分商城 for platform admins (docs/points.md, "The catalogue"): add products (gifts with stock
// and a pickup place, privileges, coupons naming their coupon template), change stock and cost,
// take them off the shelf and back.
import { useState, type FormEvent, type ReactNode } from "react";

import { http } from "../api/http";
import { points } from "../strings";
import { Empty, Loading, Page, useAction, useLoad } from "../ui/kit";
import { ErrorNote } from "./shared";

const t = points.console;

interface Product {
  id: string;
  kind: "coupon" | "gift" | "privilege";
  name: string;
  description: string;
  points_cost: number;
  stock: number | null;
  pickup: "locker" | "merchant" | null;
  coupon_template_id: string | null;
  status: "active" | "inactive";
}

export function PointsProductsPage(): ReactNode {
  const [products, error, reload] = useLoad(() => http.get<{ items: Product[] }>("/points-products"), []);
  const [notice, setNotice] = useState("");
  return (
    <Page title={t.title}>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <CreateForm
        onCreated={() => {
          setNotice(t.created);
          reload();
        }}
      />
      <ErrorNote error={error} />
      {!products && !error ? <Loading /> : null}
      {products && products.items.length === 0 ? <Empty>{t.empty}</Empty> : null}
      {products && products.items.length > 0 ? (
        <table className="console-table">
          <thead>
            <tr>
              <th scope="col">{t.name}</th>
              <th scope="col">{t.kind}</th>
              <th scope="col">{t.cost}</th>
              <th scope="col">{t.stock}</th>
              <th scope="col">{t.status}</th>
              <th scope="col">{t.actions}</th>
            </tr>
          </thead>
          <tbody>
            {products.items.map((p) => (
              <ProductRow
                key={p.id}
                product={p}
                onSaved={() => {
                  setNotice(t.saved);
                  reload();
                }}
              />
            ))}
          </tbody>
        </table>
      ) : null}
    </Page>
  );
}

function ProductRow({ product, onSaved }: { product: Product; onSaved: () => void }): ReactNode {
  const [stock, setStock] = useState(product.stock === null ? "" : String(product.stock));
  const [cost, setCost] = useState(String(product.points_cost));
  const [save, busy, error] = useAction(async (changes: Record<string, unknown>) => {
    await http.patch(`/points-products/${product.id}`, changes);
    onSaved();
  });
  const active = product.status === "active";
  return (
    <tr>
      <td>
        {product.name}
        {product.pickup ? <div className="muted">{points.pickup[product.pickup]}</div> : null}
        <ErrorNote error={error} />
      </td>
      <td>{points.kinds[product.kind]}</td>
      <td>
        <input aria-label={`${t.cost} ${product.name}`} type="number" min={1} value={cost} onChange={(e) => setCost(e.target.value)} />
      </td>
      <td>
        <input aria-label={`${t.stock} ${product.name}`} type="number" min={0} value={stock} onChange={(e) => setStock(e.target.value)} />
      </td>
      <td>{active ? t.active : t.inactive}</td>
      <td>
        <div className="row">
          <button
            type="button"
            className="primary"
            disabled={busy}
            onClick={() => void save({ points_cost: Number(cost), ...(stock === "" ? {} : { stock: Number(stock) }) })}
          >
            {t.save}
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => void save({ status: active ? "inactive" : "active" })}>
            {t.toggle(active)}
          </button>
        </div>
      </td>
    </tr>
  );
}

function CreateForm({ onCreated }: { onCreated: () => void }): ReactNode {
  const [kind, setKind] = useState<Product["kind"]>("gift");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [cost, setCost] = useState("");
  const [stock, setStock] = useState("");
  const [pickup, setPickup] = useState<"locker" | "merchant">("locker");
  const [template, setTemplate] = useState("");
  const [create, busy, error] = useAction(async () => {
    await http.post("/points-products", {
      kind,
      name,
      description,
      points_cost: Number(cost),
      stock: stock === "" ? null : Number(stock),
      pickup: kind === "gift" ? pickup : null,
      coupon_template_id: kind === "coupon" ? template : null,
    });
    setName("");
    setDescription("");
    setCost("");
    setStock("");
    onCreated();
  });
  const onSubmit = (event: FormEvent): void => {
    event.preventDefault();
    void create();
  };
  return (
    <form className="card form" onSubmit={onSubmit} aria-label={t.create}>
      <h2>{t.create}</h2>
      <label>
        {t.kind}
        <select value={kind} onChange={(e) => setKind(e.target.value as Product["kind"])}>
          <option value="gift">{points.kinds.gift}</option>
          <option value="privilege">{points.kinds.privilege}</option>
          <option value="coupon">{points.kinds.coupon}</option>
        </select>
      </label>
      <label>
        {t.name}
        <input value={name} maxLength={100} required onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        {t.description}
        <input value={description} maxLength={1000} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <label>
        {t.cost}
        <input type="number" min={1} value={cost} required onChange={(e) => setCost(e.target.value)} />
      </label>
      <label>
        {t.stock}
        <input type="number" min={0} value={stock} required={kind === "gift"} placeholder={t.stockHint} onChange={(e) => setStock(e.target.value)} />
      </label>
      {kind === "gift" ? (
        <label>
          {t.pickup}
          <select value={pickup} onChange={(e) => setPickup(e.target.value as "locker" | "merchant")}>
            <option value="locker">{points.pickup.locker}</option>
            <option value="merchant">{points.pickup.merchant}</option>
          </select>
        </label>
      ) : null}
      {kind === "coupon" ? <TemplateSelect value={template} onChange={setTemplate} /> : null}
      <ErrorNote error={error} />
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {t.create}
        </button>
      </div>
    </form>
  );
}

interface CouponTemplate {
  id: string;
  name: string;
  status: "active" | "ended";
}

/** Only the platform's issuing templates can be offered for points (the API says so too). */
function TemplateSelect({ value, onChange }: { value: string; onChange: (id: string) => void }): ReactNode {
  const [templates, error] = useLoad(
    () => http.get<{ items: CouponTemplate[] }>("/coupon-templates?funded_by=platform"),
    [],
  );
  const active = templates?.items.filter((item) => item.status === "active") ?? [];
  if (error) return <ErrorNote error={error} />;
  if (!templates) return <Loading />;
  if (active.length === 0) return <p className="muted">{t.noTemplates}</p>;
  return (
    <label>
      {t.template}
      <select value={value} required onChange={(e) => onChange(e.target.value)}>
        <option value="" disabled>
          —
        </option>
        {active.map((item) => (
          <option key={item.id} value={item.id}>
            {item.name}
          </option>
        ))}
      </select>
    </label>
  );
}
