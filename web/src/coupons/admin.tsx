// Coupon templates for those who give coupons: the merchant back office (商家券, funded by the
// store, with a budget and a scope from its catalogue) and the console (平台券, with the new-user
// flag). One screen — the list (TemplateTable.tsx) and the form (TemplateForm.tsx) — used by both;
// the pages read the lists (GET /merchants/{id}/coupon-templates, GET /coupon-templates?funded_by=platform).
import { useState, type ReactNode } from "react";

import { coupons } from "../strings";
import { CouponError } from "./parts";
import { TemplateForm } from "./TemplateForm";
import { TemplateTable } from "./TemplateTable";
import { type CouponTemplate } from "./types";

const t = coupons.admin;

/** A page's frame around the table and the form: the create toggle and the notice line. */
export function TemplatesScreen({
  intro,
  merchantId,
  templates,
  error,
  reload,
  showBudget,
}: {
  intro: string;
  merchantId: string | null;
  templates: CouponTemplate[] | undefined;
  error: unknown;
  reload: () => void;
  showBudget: boolean;
}): ReactNode {
  const [open, setOpen] = useState(false);
  const [notice, setNotice] = useState("");
  return (
    <>
      <p className="muted">{intro}</p>
      <div className="row">
        <button type="button" className={open ? undefined : "primary"} aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          {open ? t.hideForm : t.create}
        </button>
      </div>
      <p className="notice" role="status">
        {notice}
      </p>
      {open ? (
        <TemplateForm
          merchantId={merchantId}
          onCreated={(tpl) => {
            setOpen(false);
            setNotice(t.created(tpl.name));
            reload();
          }}
        />
      ) : null}
      <CouponError error={error} />
      <TemplateTable
        templates={templates}
        error={error}
        onRetry={reload}
        showBudget={showBudget}
        onChanged={(text) => {
          setNotice(text);
          reload();
        }}
      />
    </>
  );
}
