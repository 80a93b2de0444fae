// The staff console (desktop): property staff, platform admins, customer service.
import { type ReactNode } from "react";
import { NavLink, Route, Routes } from "react-router";

import { LiveConsoleRoute } from "../live/lazy";
import { consoleText } from "../strings";
import { Empty, Page } from "../ui/kit";

export default function ConsoleApp(): ReactNode {
  return (
    <div className="desktop">
      <nav className="sidebar" aria-label={consoleText.title}>
        <strong>{consoleText.title}</strong>
        <NavLink to="/console" end>{consoleText.nav.residents}</NavLink>
        <NavLink to="/console/moderation">{consoleText.nav.moderation}</NavLink>
        <NavLink to="/console/lockers">{consoleText.nav.lockers}</NavLink>
        <NavLink to="/console/live">{consoleText.nav.live}</NavLink>
        <NavLink to="/console/draws">{consoleText.nav.draws}</NavLink>
        <NavLink to="/console/merchants">{consoleText.nav.merchants}</NavLink>
        <NavLink to="/console/communities">{consoleText.nav.communities}</NavLink>
        <NavLink to="/console/support">{consoleText.nav.support}</NavLink>
      </nav>
      <main className="desktop-main">
        <Routes>
          <Route path="live" element={<LiveConsoleRoute />} />
          <Route path="*" element={<Page title={consoleText.title}><Empty /></Page>} />
        </Routes>
      </main>
    </div>
  );
}
