// The staff console (desktop): property staff, platform admins, customer service. The sidebar
// shows what the caller's roles allow; the API checks every action again.
import { lazy, Suspense, type ReactNode } from "react";
import { Link, Navigate, NavLink, Route, Routes } from "react-router";

import { LiveConsoleRoute } from "../live/lazy";
import AnnouncementsPage from "../notifications/AnnouncementsPage";
import { Bell } from "../notifications/Bell";
import NotificationsPage from "../notifications/NotificationsPage";
import { consoleText, courses, insights, points, sponsored } from "../strings";
import { Loading, Page } from "../ui/kit";
import "./console.css";
import { CommunitiesPage } from "./CommunitiesPage";
import { CouponsPage } from "./CouponsPage";
import { DrawsPage, DrawVerifyPage } from "./DrawsPage";
import { GiftPickupPage } from "./GiftPickupPage";
import { LockersPage } from "./LockersPage";
import { MerchantsPage } from "./MerchantsPage";
import { ModerationPage } from "./ModerationPage";
import { PointsProductsPage } from "./PointsProductsPage";
import { FeeInvoicesPage, PropertyStatementsPage } from "./MoneyPages";
import { ResidentsPage } from "./ResidentsPage";
import { useRoles } from "./shared";
import { SupportPage } from "./SupportPage";
import GrantPage from "../subscriptions/GrantPage";
import { conversations, events } from "../strings";

const eventScreens = () => import("../events/ConsoleEvents");
const EventsPage = lazy(() => eventScreens().then((m) => ({ default: m.ConsoleEventsPage })));
const EventPage = lazy(() => eventScreens().then((m) => ({ default: m.ConsoleEventPage })));
const EventCheckIn = lazy(() => import("../events/CheckInPage"));

const CommunityInsights = lazy(() => import("../insights/CommunityInsights"));

const ConversationCases = lazy(() => import("../conversations/ConsoleCases"));

const SponsoredPage = lazy(() => import("../sponsored/SponsoredConsolePage"));

const PlatformCourses = lazy(() => import("../courses/MerchantCourses").then((m) => ({ default: m.PlatformCoursesPage })));

interface NavItem {
  to: string;
  label: string;
}

function useNavigation(): Array<{ group: string; items: NavItem[] }> {
  const { staffOf, admin, service } = useRoles();
  const groups: Array<{ group: string; items: NavItem[] }> = [];
  if (staffOf.length > 0) {
    groups.push({
      group: consoleText.navGroups.staff,
      items: [
        { to: "/console/residents", label: consoleText.nav.residents },
        { to: "/console/moderation", label: consoleText.nav.moderation },
        { to: "/console/lockers", label: consoleText.nav.lockers },
        { to: "/console/live", label: consoleText.nav.live },
        { to: "/console/draws", label: consoleText.nav.draws },
        { to: "/console/events", label: events.console.nav },
        { to: "/console/gifts", label: points.pickupDesk.nav },
        { to: "/console/statements", label: consoleText.nav.statements },
        { to: "/console/insights", label: insights.consoleNav },
      ],
    });
  }
  if (admin) {
    groups.push({
      group: consoleText.navGroups.admin,
      items: [
        { to: "/console/merchants", label: consoleText.nav.merchants },
        { to: "/console/communities", label: consoleText.nav.communities },
        { to: "/console/points", label: points.console.nav },
        { to: "/console/coupons", label: consoleText.nav.coupons },
        { to: "/console/announcements", label: consoleText.nav.announcements },
        { to: "/console/virtual-numbers", label: consoleText.nav.virtualNumbers },
        { to: "/console/sponsored", label: sponsored.nav },
        { to: "/console/courses", label: courses.office.platformNav },
        ...(staffOf.length > 0
          ? []
          : [
              { to: "/console/statements", label: consoleText.nav.statements },
              { to: "/console/moderation", label: consoleText.nav.moderation },
              { to: "/console/gifts", label: points.pickupDesk.nav },
            ]),
        { to: "/console/fee-invoices", label: consoleText.nav.feeInvoices },
        ...(staffOf.length > 0 ? [] : [{ to: "/console/insights", label: insights.consoleNav }]),
      ],
    });
  }
  if (service || admin) {
    groups.push({
      group: consoleText.navGroups.service,
      items: [
        { to: "/console/support", label: consoleText.nav.support },
        { to: "/console/conversations", label: conversations.console.nav },
        ...(staffOf.length > 0 || admin ? [] : [{ to: "/console/moderation", label: consoleText.nav.moderation }]),
      ],
    });
  }
  return groups;
}

function NoRole(): ReactNode {
  return (
    <Page title={consoleText.title}>
      <p>{consoleText.noRole}</p>
      <Link to="/">{consoleText.toResident}</Link>
    </Page>
  );
}

export default function ConsoleApp(): ReactNode {
  const groups = useNavigation();
  const first = groups[0]?.items[0]?.to;
  return (
    <div className="desktop">
      <nav className="sidebar" aria-label={consoleText.title}>
        <strong>{consoleText.title}</strong>
        <Bell to="/console/notifications" label={consoleText.nav.notifications} />
        {groups.map(({ group, items }) => (
          <div key={group} className="console-nav-group" role="group" aria-label={group}>
            <span className="console-nav-title">{group}</span>
            {items.map((item) => (
              <NavLink key={item.to} to={item.to}>
                {item.label}
              </NavLink>
            ))}
          </div>
        ))}
        <Link to="/" className="console-back">
          {consoleText.toResident}
        </Link>
      </nav>
      <main className="desktop-main">
        <Routes>
          <Route index element={first ? <Navigate to={first} replace /> : <NoRole />} />
          <Route path="residents" element={<ResidentsPage />} />
          <Route path="moderation" element={<ModerationPage />} />
          <Route path="lockers" element={<LockersPage />} />
          <Route path="live" element={<LiveConsoleRoute />} />
          <Route path="draws" element={<DrawsPage />} />
          <Route path="draws/:drawId" element={<DrawVerifyPage />} />
          <Route path="events" element={<EventsPage />} />
          <Route path="events/:id" element={<EventPage />} />
          <Route path="events/:id/check-in" element={<EventCheckIn />} />
          <Route path="merchants" element={<MerchantsPage />} />
          <Route path="communities" element={<CommunitiesPage />} />
          <Route path="points" element={<PointsProductsPage />} />
          <Route path="gifts" element={<GiftPickupPage />} />
          <Route path="coupons" element={<CouponsPage />} />
          <Route path="support" element={<SupportPage />} />
          <Route path="conversations" element={<ConversationCases />} />
          <Route path="statements" element={<PropertyStatementsPage />} />
          <Route path="fee-invoices" element={<FeeInvoicesPage />} />
          <Route path="notifications" element={<NotificationsPage />} />
          <Route path="announcements" element={<AnnouncementsPage />} />
          <Route path="virtual-numbers" element={<GrantPage />} />
          <Route path="insights" element={<Suspense fallback={<Loading />}><CommunityInsights /></Suspense>} />
          <Route path="sponsored" element={<SponsoredPage />} />
          <Route path="courses" element={<PlatformCourses />} />
          <Route path="*" element={<Navigate to="/console" replace />} />
        </Routes>
      </main>
    </div>
  );
}
