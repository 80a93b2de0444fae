// The resident area (mobile first: it runs in a WeChat web-view): a tab bar and its screens.
import { lazy, type ReactNode } from "react";
import { NavLink, Route, Routes } from "react-router";

import { resident } from "../strings";
import { HomePage } from "./HomePage";
import { MePage } from "./MePage";

const channelScreens = () => import("../channel/ChannelRoutes");
const ChannelHome = lazy(() => channelScreens().then((m) => ({ default: m.ChannelHome })));
const ChannelById = lazy(() => channelScreens().then((m) => ({ default: m.ChannelById })));
const LotteryVerify = lazy(() => channelScreens().then((m) => ({ default: m.VerifyPage })));
const Support = lazy(() => channelScreens().then((m) => ({ default: m.SupportPage })));

export default function ResidentApp(): ReactNode {
  return (
    <div className="mobile">
      <main className="mobile-main">
        <Routes>
          <Route index element={<HomePage />} />
          <Route path="me" element={<MePage />} />
          <Route path="channel" element={<ChannelHome />} />
          <Route path="channel/:communityId" element={<ChannelById />} />
          <Route path="lottery/:drawId" element={<LotteryVerify />} />
          <Route path="support" element={<Support />} />
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
