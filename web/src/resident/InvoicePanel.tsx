// 发票 on a merchant order: the buyer asks the merchant for an invoice (personal or company
// title; a company's tax id is its 统一社会信用代码), sees its state and downloads the PDF once
// issued. API: POST /orders/{id}/invoice, GET /me/invoices, GET /invoices/{id}/document.
import { useId, useState, type ReactNode } from "react";

import { http } from "../api/http";
import { common, resident } from "../strings";
import { Loading, useAction, useLoad } from "../ui/kit";
import { ResidentError } from "./ResidentError";
import { type Order } from "./types";

interface Invoice {
  id: string;
  order_id: string | null;
  title: string;
  amount_fen: number;
  status: "requested" | "issued" | "rejected";
  reject_reason: string | null;
  has_document: boolean;
  created_at: string;
}

export function InvoicePanel({ order }: { order: Order }): ReactNode {
  const v = resident.invoice;
  const [mine, error, reload] = useLoad(() => http.get<Invoice[]>("/me/invoices"), [order.id]);
  const [kind, setKind] = useState<"personal" | "company">("personal");
  const [title, setTitle] = useState("");
  const [taxId, setTaxId] = useState("");
  const ids = { title: useId(), tax: useId() };
  const [ask, busy, askError] = useAction(async () => {
    await http.post(`/orders/${order.id}/invoice`, { title_kind: kind, title, tax_id: kind === "company" ? taxId : null });
    reload();
  });
  const current = mine?.find((i) => i.order_id === order.id);
  return (
    <section aria-labelledby="invoice-heading" className="card">
      <h2 id="invoice-heading">{v.title}</h2>
      <ResidentError error={error} />
      {!mine ? (
        error ? null : <Loading />
      ) : current && current.status !== "rejected" ? (
        <div>
          <p>
            {v.states[current.status]} · {current.title} · {common.yuan(current.amount_fen)}
          </p>
          {current.has_document ? (
            <a className="button-link primary" href={`/api/v1/invoices/${current.id}/document`} download>
              {v.download}
            </a>
          ) : null}
        </div>
      ) : (
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void ask();
          }}
        >
          {current ? <p className="error">{v.rejected(current.reject_reason ?? "")}</p> : null}
          <fieldset className="choices">
            <legend>{v.kind}</legend>
            {(["personal", "company"] as const).map((k) => (
              <label key={k} className="choice">
                <input type="radio" name="invoice-kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
                {v.kinds[k]}
              </label>
            ))}
          </fieldset>
          <label htmlFor={ids.title}>
            {v.invoiceTitle}
            <input id={ids.title} required maxLength={100} value={title} onChange={(e) => setTitle(e.target.value)} />
          </label>
          {kind === "company" ? (
            <label htmlFor={ids.tax}>
              {v.taxId}
              <input id={ids.tax} required maxLength={18} value={taxId} onChange={(e) => setTaxId(e.target.value.toUpperCase())} />
            </label>
          ) : null}
          <ResidentError error={askError} />
          <button type="submit" className="primary" disabled={busy}>
            {v.request}
          </button>
        </form>
      )}
    </section>
  );
}
