// The merchant back office (desktop layout; 004 §2.3).
import { type ReactNode } from "react";
import { NavLink, Route, Routes } from "react-router";

import { merchant } from "../strings";
import { Empty, Page } from "../ui/kit";

export default function MerchantApp(): ReactNode {
  return (
    <div className="desktop">
      <nav className="sidebar" aria-label={merchant.title}>
        <strong>{merchant.title}</strong>
        <NavLink to="/merchant" end>{merchant.nav.dashboard}</NavLink>
        <NavLink to="/merchant/orders">{merchant.nav.orders}</NavLink>
        <NavLink to="/merchant/catalogue">{merchant.nav.catalogue}</NavLink>
        <NavLink to="/merchant/settlements">{merchant.nav.settlements}</NavLink>
        <NavLink to="/merchant/settings">{merchant.nav.settings}</NavLink>
        <NavLink to="/merchant/registration">{merchant.nav.registration}</NavLink>
      </nav>
      <main className="desktop-main">
        <Routes>
          <Route path="*" element={<Page title={merchant.title}><Empty>{merchant.none}</Empty></Page>} />
        </Routes>
      </main>
    </div>
  );
}
