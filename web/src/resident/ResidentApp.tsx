// The resident area (mobile first: it runs in a WeChat web-view): a tab bar and its screens.
import { type ReactNode } from "react";
import { NavLink, Route, Routes } from "react-router";

import { LiveWatchRoute } from "../live/lazy";
import { resident } from "../strings";
import { HomePage } from "./HomePage";
import { MePage } from "./MePage";

export default function ResidentApp(): ReactNode {
  return (
    <div className="mobile">
      <main className="mobile-main">
        <Routes>
          <Route index element={<HomePage />} />
          <Route path="me" element={<MePage />} />
          <Route path="live/:communityId?" element={<LiveWatchRoute />} />
          <Route path="*" element={<HomePage />} />
        </Routes>
      </main>
      <nav className="tabbar" aria-label={resident.tabs.home}>
        <NavLink to="/" end>{resident.tabs.home}</NavLink>
        <NavLink to="/channel">{resident.tabs.channel}</NavLink>
        <NavLink to="/publish">{resident.tabs.publish}</NavLink>
        <NavLink to="/orders">{resident.tabs.orders}</NavLink>
        <NavLink to="/me">{resident.tabs.me}</NavLink>
      </nav>
    </div>
  );
}
